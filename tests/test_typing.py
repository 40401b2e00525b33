"""The generic types (issue 15) as mypy sees them: tests/typing/check_generics.py must
type-check, and a wrong expectation must not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ROOT / "tests" / "typing" / "check_generics.py"

WRONG = """
from typing import assert_type
from rtcbot import MostRecentSubscription, SyntheticCamera
assert_type(SyntheticCamera().subscribe(), MostRecentSubscription[int])
"""


def test_mypy_infers_the_item_types_and_rejects_a_wrong_one(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_expectation.py"
    wrong.write_text(WRONG)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(CHECKS), str(wrong)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
    )
    lines = [line for line in result.stdout.splitlines() if ": error:" in line or ": note:" in line]
    assert not [line for line in lines if "check_generics.py" in line], result.stdout + result.stderr
    assert any("wrong_expectation.py" in line and "assert-type" in line for line in lines), result.stdout
    assert result.returncode == 1, result.stdout + result.stderr
