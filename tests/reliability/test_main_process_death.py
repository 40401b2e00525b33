"""A main program killed with SIGKILL mid-stream: its children exit within a second, its
shared memory is gone with them, and neither the next start nor a program running beside
it is disturbed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..orphans import adoptingOrphans, exitsWithin

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def streamer(countFile: Path) -> Iterator[tuple[subprocess.Popen[str], list[int]]]:
    """Runs tests.reliability.streamer; yields it and [its pid, its children's pids]."""
    program = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.streamer", str(countFile)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert program.stdout is not None
        line = program.stdout.readline()
        assert line, program.stderr.read() if program.stderr else ""
        yield program, json.loads(line)
    finally:
        if program.poll() is None:
            program.terminate()
            program.wait(10)
        for stream in (program.stdout, program.stderr):
            if stream is not None:
                stream.close()


def segmentsOf(pid: int) -> set[str]:
    """Every mapping of rtcbot's memfd segments made by ``pid``, in any process."""
    found = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            text = maps.read_text()
        except OSError:
            continue
        found.update(
            f"{maps.parent.name}: {line.split()[-2]}" for line in text.splitlines() if f"memfd:rtcbot-{pid}-" in line
        )
    return found


def framesSoFar(countFile: Path) -> int:
    try:
        return int(countFile.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def waitForMoreFrames(countFile: Path, than: int, seconds: float = 10) -> int:
    deadline = time.monotonic() + seconds
    while (count := framesSoFar(countFile)) <= than:
        assert time.monotonic() < deadline, f"no new frames in {seconds} s (still {count})"
        time.sleep(0.02)
    return count


def test_a_killed_main_program_leaves_nothing_and_disturbs_no_other_program(tmp_path: Path) -> None:
    shmBefore = set(os.listdir("/dev/shm"))
    orphans: list[int] = []
    with adoptingOrphans(orphans), streamer(tmp_path / "live.count") as (live, livePids):
        orphans.extend(livePids[1:])  # they become ours when their program ends
        with streamer(tmp_path / "victim.count") as (victim, victimPids):
            waitForMoreFrames(tmp_path / "victim.count", 0)
            assert segmentsOf(victim.pid), "the victim's rings are mapped while it streams"
            orphans.extend(victimPids[1:])
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            assert all(exitsWithin(pid, 1.0) for pid in victimPids[1:]), "children exit within 1 s"
        assert segmentsOf(victim.pid) == set(), "the dead program's shared memory is gone"
        assert set(os.listdir("/dev/shm")) == shmBefore, "nothing named is left in /dev/shm"
        with streamer(tmp_path / "next.count") as (_, followingPids):
            orphans.extend(followingPids[1:])
            waitForMoreFrames(tmp_path / "next.count", 0)  # the next start works
            before = framesSoFar(tmp_path / "live.count")
            waitForMoreFrames(tmp_path / "live.count", before + 50)  # the program beside it never stopped
            assert segmentsOf(live.pid), "the live program's rings were not touched"
            assert live.poll() is None
