"""The documentation builds with Sphinx, warnings as errors, from the docstrings and pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[1] / "docs"


@pytest.mark.timeout(180)
def test_the_docs_build_without_a_single_warning(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == 0, result.stderr
    api = (tmp_path / "api.html").read_text()
    for name in ("ProcessSubscriptionProducer", "MostRecentSubscription", "CVCamera", "Speaker", "Frame"):
        assert name in api, f"{name} is missing from the API reference"
    performance = (tmp_path / "performance.html").read_text()
    assert "capture → subscriber resumed" in performance and "rawshm" in performance
    assert "none attached" in performance and "iceoryx2" in performance, "the named-stream figures are missing"
