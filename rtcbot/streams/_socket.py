"""Claiming a stream's socket: one live publisher per name, stale sockets replaced."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path

from ._errors import StreamNameInUse
from ._names import describeUser, peerCredentials

#: Connections a publisher queues before it accepts them.
BACKLOG = 64


def unixSocket(blocking: bool = False) -> socket.socket:
    """A Unix stream socket that no child program inherits, non-blocking unless ``blocking``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.setblocking(blocking)
    return sock


class ClaimedSocket:
    """The listening socket of a stream this program publishes, bound at ``path``.

    Binding happens under a lock on the directory, so that two programs replacing the same
    stale socket cannot both think they won. ``mode`` and ``gid`` set who may connect.
    """

    def __init__(self, name: str, path: Path, mode: int, gid: int | None) -> None:
        self.path = path
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(directory, fcntl.LOCK_EX)
            self.sock = self._bind(name)
            try:
                os.chmod(path, mode)
                if gid is not None:
                    os.chown(path, -1, gid)
                self.sock.listen(BACKLOG)
                self._inode = os.stat(path).st_ino
            except BaseException:
                self.sock.close()
                path.unlink(missing_ok=True)
                raise
        finally:
            os.close(directory)  # also releases the lock

    def _bind(self, name: str) -> socket.socket:
        sock = unixSocket()
        try:
            sock.bind(str(self.path))
            return sock
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                sock.close()
                raise
        owner = _liveOwner(self.path)
        if owner is not None:
            sock.close()
            raise StreamNameInUse(
                f"stream {name!r} is already published by {owner}; close that publisher first "
                "or choose another name (`rtcbot list` shows them)"
            )
        self.path.unlink(missing_ok=True)  # stale: its publisher died without removing it
        try:
            sock.bind(str(self.path))
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        """Stops listening and removes the socket file, if it is still this one."""
        self.sock.close()
        try:
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()
        except FileNotFoundError:
            pass


def _liveOwner(path: Path) -> str | None:
    """Who listens at ``path`` (in words), or None when nobody does (a stale socket)."""
    probe = unixSocket()
    try:
        probe.connect(str(path))
    except BlockingIOError:  # a full backlog: somebody is listening
        return "a busy program"
    except (ConnectionRefusedError, FileNotFoundError):
        return None
    except PermissionError:  # another user's socket: not ours to replace, live or not
        return f"user {describeUser(os.stat(path).st_uid)}, whose socket {path} this user may not use"
    else:
        pid, uid, _ = peerCredentials(probe)
        return f"pid {pid} (user {describeUser(uid)})"
    finally:
        probe.close()
