"""Finding out whether an X display can be reached, before a GUI library aborts on it."""

from __future__ import annotations

import os
import re
import socket

_DISPLAY = re.compile(r"^(?P<host>[^:]*):(?P<number>\d+)(\.\d+)?$")


class DisplayUnavailable(RuntimeError):
    """There is no X display to show windows on."""


def checkDisplay(device: str) -> None:
    """Raises :class:`DisplayUnavailable`, saying what to do, unless ``$DISPLAY`` names an X
    server that accepts connections. (OpenCV's Qt backend aborts the whole process instead.)"""
    display = os.environ.get("DISPLAY", "")
    if not display:
        raise DisplayUnavailable(
            f"{device} needs an X display, but DISPLAY is not set: run it in a desktop session, "
            "with ssh -X, or under a virtual display (e.g. Xvfb :99 & export DISPLAY=:99)"
        )
    match = _DISPLAY.match(display)
    if match is None:
        raise DisplayUnavailable(f"{device}: DISPLAY={display!r} is not of the form [host]:number[.screen]")
    host, number = match["host"], int(match["number"])
    try:
        if host in ("", "unix"):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(f"/tmp/.X11-unix/X{number}")
        else:
            socket.create_connection((host, 6000 + number), timeout=2).close()
    except OSError as error:
        raise DisplayUnavailable(
            f"{device} cannot reach the X display DISPLAY={display!r} ({error}): is the X server "
            "running, and is DISPLAY right?"
        ) from None
