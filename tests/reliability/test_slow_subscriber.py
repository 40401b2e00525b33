"""A subscriber that stalls for seconds holding a frame costs the others nothing: their p99
latency stays within 10 %, the producer's rate does not change, memory stays flat. Measured
in a fresh process (tests/reliability/stallprobe.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .stallprobe import ROUNDS

ROOT = Path(__file__).resolve().parents[2]


def _probe() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.stallprobe"], cwd=ROOT, capture_output=True, text=True, timeout=140
    )
    assert result.returncode == 0, result.stderr
    measured: dict[str, Any] = json.loads(result.stdout)
    return measured


def _problems(measured: dict[str, Any]) -> list[str]:
    """What in one measurement breaks the promise (none: kept)."""
    problems = []
    p99, published, dropped = measured["p99Us"], measured["published"], measured["dropped"]
    if p99["with"] > 1.10 * p99["without"]:
        problems.append(f"p99 {p99['with']:.0f} µs with the staller, {p99['without']:.0f} µs without")
    if abs(sum(published["with"]) - sum(published["without"])) > ROUNDS:
        problems.append(f"the producer's rate changed: {sum(published['with'])} vs {sum(published['without'])} frames")
    # The stalled subscriber holds one slot and the others are never left without one: frames
    # dropped for want of a slot come only from the machine's own hiccups, as often with the
    # staller as without it.
    total = sum(published["with"]) + sum(published["without"])
    if dropped["with"] > dropped["without"] + 2 or dropped["with"] + dropped["without"] > 0.001 * total:
        problems.append(f"drops {dropped}")
    if measured["residentGrowthMb"] >= 5:
        problems.append(f"memory grew {measured['residentGrowthMb']:.1f} MB")
    return problems


@pytest.mark.timeout(300)
def test_a_stalled_subscriber_changes_neither_the_others_latency_nor_the_producer_rate() -> None:
    # A shared two-core machine sometimes colours a whole measurement (a CI run of
    # several interpreters saw 3.0 ms against 3.7 ms once): a second measurement must then
    # keep the promise. A real cost of the staller shows in both.
    first = _probe()
    problems = _problems(first)
    if problems:
        print(f"first measurement: {'; '.join(problems)}; measuring again")
        second = _probe()
        assert not _problems(second), {"first": first, "second": second}
