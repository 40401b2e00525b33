"""Stream names, the directory their sockets live in, and who may use a socket.

A published stream is a Unix socket ``<name>.sock`` in the stream directory:
``$RTCBOT_STREAM_DIR`` if set, else ``/run/rtcbot`` if it exists (systemd's
``RuntimeDirectory=rtcbot``), else ``/tmp/rtcbot-streams`` (made sticky and
world-writable on first use, like ``/tmp`` itself, so that every user can publish).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import socket
import stat
import struct
from pathlib import Path

NAME_RULE = "1 to 64 characters, each a letter, a digit, '_', '.' or '-' (and not '.' or '..')"
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SOCKET_SUFFIX = ".sock"
SYSTEM_DIR = Path("/run/rtcbot")
FALLBACK_DIR = Path("/tmp/rtcbot-streams")
_PEER_CREDENTIALS = struct.Struct("3i")


def checkName(name: object) -> str:
    """``name`` if it is a valid stream name; a ValueError naming the rule otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"a stream name is a string, got {name!r}")
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"{name!r} is not a valid stream name: a name is {NAME_RULE}")
    return name


def streamDirectory() -> Path:
    """The directory of stream sockets (see the module's documentation)."""
    configured = os.environ.get("RTCBOT_STREAM_DIR")
    if configured:
        return Path(configured)
    if SYSTEM_DIR.is_dir():
        return SYSTEM_DIR
    return FALLBACK_DIR


def ensureStreamDirectory() -> Path:
    """The stream directory, made if missing; a PermissionError saying what to do if it
    cannot be written."""
    directory = streamDirectory()
    if directory == FALLBACK_DIR and not directory.exists():
        try:
            directory.mkdir(mode=0o700)
            os.chmod(directory, 0o1777)  # sticky: nobody removes another user's socket
        except FileExistsError:
            pass
    directory.mkdir(parents=True, exist_ok=True)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot publish in {directory}: this user may not create sockets there; "
            "set RTCBOT_STREAM_DIR to a directory you can write"
        )
    return directory


def socketPath(name: str) -> Path:
    """Where the socket of stream ``name`` is."""
    return streamDirectory() / (checkName(name) + SOCKET_SUFFIX)


def publishedNames() -> list[str]:
    """The names that have a socket in the stream directory (live or stale), sorted."""
    try:
        entries = list(streamDirectory().iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = []
    for entry in entries:
        name = entry.name.removesuffix(SOCKET_SUFFIX)
        if entry.name.endswith(SOCKET_SUFFIX) and _NAME.fullmatch(name):
            try:
                if stat.S_ISSOCK(entry.lstat().st_mode):
                    names.append(name)
            except FileNotFoundError:
                pass
    return sorted(names)


def peerCredentials(sock: socket.socket) -> tuple[int, int, int]:
    """The (pid, uid, gid) of the process at the other end of a Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEER_CREDENTIALS.size)
    pid, uid, gid = _PEER_CREDENTIALS.unpack(raw)
    return pid, uid, gid


def groupsOf(pid: int, gid: int) -> set[int]:
    """Every group of process ``pid`` (its primary ``gid`` and its supplementary groups)."""
    groups = {gid}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("Groups:"):
                    groups.update(int(g) for g in line.split()[1:])
                    break
    except (OSError, ValueError):
        pass
    return groups


def groupId(group: str | int) -> int:
    """The numeric id of a group given by name or number; a ValueError if there is none."""
    if isinstance(group, bool) or not isinstance(group, (str, int)):
        raise TypeError(f"group is a group name or number, got {group!r}")
    if isinstance(group, int):
        return group
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ValueError(f"there is no group {group!r} on this machine (see /etc/group)") from None


def describeUser(uid: int) -> str:
    """``uid`` with its user name where it has one, e.g. ``1000 (pi)``."""
    try:
        return f"{uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return str(uid)
