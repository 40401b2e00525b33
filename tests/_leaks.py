"""A snapshot of what a test could leak: threads, fds, child processes, /dev/shm entries."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path


def _childPids() -> frozenset[int]:
    me = os.getpid()
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            children.add(int(stat.parent.name))
    return frozenset(children)


def _shmEntries() -> frozenset[str]:
    try:
        return frozenset(n for n in os.listdir("/dev/shm") if not n.startswith("jack"))
    except FileNotFoundError:
        return frozenset()


def _describeFd(fd: int) -> str:
    try:
        return f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}"
    except OSError:
        return str(fd)


def _openFds() -> frozenset[int]:
    return frozenset(int(fd) for fd in os.listdir("/proc/self/fd"))


@dataclass(frozen=True)
class Resources:
    threads: frozenset[str]
    fds: frozenset[int]
    children: frozenset[int]
    shm: frozenset[str]

    @classmethod
    def snapshot(cls) -> Resources:
        return cls(
            threads=frozenset(f"{t.name}#{t.ident}" for t in threading.enumerate()),
            fds=_openFds(),
            children=_childPids(),
            shm=_shmEntries(),
        )

    def leakedSince(self, before: Resources) -> list[str]:
        problems = []
        if extra := self.threads - before.threads:
            problems.append(f"threads still running: {sorted(extra)}")
        if extra := self.fds - before.fds:
            problems.append(f"file descriptors left open: {[_describeFd(fd) for fd in sorted(extra)]}")
        if extra := self.children - before.children:
            problems.append(f"child processes still running: {sorted(extra)}")
        if extra := self.shm - before.shm:
            problems.append(f"/dev/shm entries left behind: {sorted(extra)}")
        return problems
