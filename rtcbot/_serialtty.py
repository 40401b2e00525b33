"""Opening a serial port (a tty: USB serial, the Pi's UART, a pty) through the kernel's
termios interface, raw and non-blocking, so the event loop itself can read and write it."""

from __future__ import annotations

import glob
import os
import termios
import tty

#: Baud rates termios names on this platform (``termios.B115200`` and so on).
BAUD_RATES = {int(name[1:]): getattr(termios, name) for name in dir(termios) if name[1:].isdigit() and name[0] == "B"}


def _candidates() -> str:
    found = sorted(glob.glob("/dev/ttyACM*") + glob.glob("/dev/ttyUSB*") + glob.glob("/dev/serial/by-id/*"))
    return ", ".join(found) if found else "none (is the board plugged in?)"


def checkBaudrate(baudrate: int) -> int:
    """The termios speed of ``baudrate``; ``ValueError`` lists the ones that exist."""
    speed = BAUD_RATES.get(baudrate)
    if speed is None or baudrate == 0:
        rates = ", ".join(str(rate) for rate in sorted(BAUD_RATES) if rate)
        raise ValueError(f"baudrate {baudrate!r} is not a standard serial speed; use one of {rates}")
    return int(speed)


def openSerialPort(path: str, baudrate: int) -> int:
    """A non-blocking fd of the tty at ``path``, raw (8N1, no echo, no line editing) at
    ``baudrate``. Errors say what is wrong: no such port, no permission, not a tty."""
    speed = checkBaudrate(baudrate)
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileNotFoundError(f"serial port {path!r} does not exist; serial ports here: {_candidates()}") from None
    except PermissionError:
        raise PermissionError(
            f"no permission to open serial port {path!r}; add your user to its group "
            f"(usually: sudo usermod -aG dialout $USER, then log in again)"
        ) from None
    try:
        if not os.isatty(fd):
            raise OSError(f"{path!r} is not a serial port (not a tty)")
        tty.setraw(fd, termios.TCSANOW)  # keeps what the board sent before the port opened
        attributes = termios.tcgetattr(fd)
        attributes[2] |= termios.CLOCAL | termios.CREAD  # no modem lines needed to read
        attributes[4] = attributes[5] = speed
        termios.tcsetattr(fd, termios.TCSANOW, attributes)
    except BaseException:
        os.close(fd)
        raise
    return fd
