"""A subscriber that stalls for seconds holding a frame costs the others nothing: their p99
latency stays within 10 %, the producer's rate does not change, memory stays flat. Measured
in a fresh process (tests/reliability/stallprobe.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .stallprobe import ROUNDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(150)
def test_a_stalled_subscriber_changes_neither_the_others_latency_nor_the_producer_rate() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.stallprobe"], cwd=ROOT, capture_output=True, text=True, timeout=140
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    p99 = measured["p99Us"]
    print(f"p99 without a stalled subscriber {p99['without']:.0f} µs, with {p99['with']:.0f} µs")
    assert p99["with"] <= 1.10 * p99["without"], measured
    published = measured["published"]
    assert abs(sum(published["with"]) - sum(published["without"])) <= ROUNDS, "the producer kept its rate"
    # The stalled subscriber holds one slot and the others are never left without one: frames
    # dropped for want of a slot come only from the machine's own hiccups (1 in ~9,600 seen
    # once in a loaded CI run), as often with the staller as without it.
    dropped = measured["dropped"]
    assert dropped["with"] <= dropped["without"] + 2, dropped
    assert dropped["with"] + dropped["without"] <= 0.001 * (sum(published["with"]) + sum(published["without"])), dropped
    assert measured["residentGrowthMb"] < 5, measured
