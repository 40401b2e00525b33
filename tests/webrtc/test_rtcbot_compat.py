"""RTCBot 0.2.5's own tests of RTCConnection, from its published sdist (downloaded by
scripts/setup), run unchanged against this package."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

from ..rigfixtures import _unavailable

SDIST = Path(__file__).parents[2] / ".cache" / "rtcbot-0.2.5.tar.gz"
TEST_FILE = "rtcbot-0.2.5/tests/test_RTCConnection.py"


def test_rtcbots_own_RTCConnection_tests_pass_unchanged(tmp_path: Path) -> None:
    if not SDIST.exists():
        _unavailable(f"{SDIST} is missing: scripts/setup downloads it")
    with tarfile.open(SDIST) as sdist:
        source = sdist.extractfile(TEST_FILE)
        assert source is not None
        (tmp_path / "test_RTCConnection.py").write_bytes(source.read())
    # Only the test file is copied, so `from rtcbot import RTCConnection` finds this package.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_RTCConnection.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr
