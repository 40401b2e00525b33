"""CPU time and peak memory of this process and its children, read from /proc."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessUsage:
    """One process over a run: CPU as a share of one core, and its peak resident memory."""

    pid: int
    name: str
    cpuPercent: float
    peakRssMb: float
    rssMb: float
    """Resident memory at the last sample."""


def _cpuSeconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _memoryMb(pid: int) -> tuple[float, float] | None:
    """Peak and current resident memory (VmHWM, VmRSS)."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        return None


def residentMb(pid: int | None = None) -> float:
    """Resident memory of ``pid`` (default: this process) now, in MB."""
    memory = _memoryMb(os.getpid() if pid is None else pid)
    if memory is None:
        raise ProcessLookupError(f"no process {pid}")
    return memory[1]


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def _runningParents() -> dict[int, int]:
    """pid -> parent pid of every running (not zombie) process, from one pass over /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    return parents


def childPids(parent: int) -> list[int]:
    """The running (not zombie) children of ``parent``."""
    return [pid for pid, ppid in _runningParents().items() if ppid == parent]


def descendantPids(ancestor: int) -> list[int]:
    """The running children of ``ancestor``, their children, and so on (a forkserver's too)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _runningParents().items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    todo = [ancestor]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


class UsageWatch:
    """Follows this process and every descendant that appears, from :meth:`start` to the last
    :meth:`sample`. Peak memory of this process is reset at the start (``clear_refs``)."""

    def __init__(self) -> None:
        self._me = os.getpid()
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[float, tuple[float, float], str]] = {}  # cpu s, (peak, now) MB, name
        self._started = 0.0
        self._sampled = 0.0

    def start(self, now: float) -> None:
        """Starts a run at ``now``: CPU counts from here, this process's peak is reset."""
        with contextlib.suppress(OSError):  # not allowed here: the peak then counts from the process start
            Path("/proc/self/clear_refs").write_text("5")
        self._started = now
        self.sample(now)

    def sample(self, now: float) -> None:
        """Reads every followed process (call it now and then, and at the end of the run)."""
        self._sampled = now
        for pid in [self._me, *descendantPids(self._me)]:
            cpu, memory = _cpuSeconds(pid), _memoryMb(pid)
            if cpu is None or memory is None:
                continue
            self._first.setdefault(pid, cpu)
            self._last[pid] = (cpu, memory, _name(pid) if pid not in self._last else self._last[pid][2])

    def usage(self) -> list[ProcessUsage]:
        """Each process seen: this one first ("main"), then the children by pid."""
        wall = max(self._sampled - self._started, 1e-9)
        result = []
        for pid in sorted(self._last, key=lambda p: (p != self._me, p)):
            cpu, (peak, now), name = self._last[pid]
            label = "main" if pid == self._me else name
            cpuPercent = round(100 * (cpu - self._first[pid]) / wall, 1)
            result.append(ProcessUsage(pid, label, cpuPercent, round(peak, 1), round(now, 1)))
        return result
