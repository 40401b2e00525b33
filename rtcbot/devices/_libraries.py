"""Device libraries (cv2, sounddevice) are imported by the devices that need them, inside
their child processes, so importing rtcbot stays light. A missing library is a clear error."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

_HOW_TO_INSTALL = {
    "cv2": "pip install opencv-python  (or: pip install 'rtcbot[camera]')",
    "sounddevice": "pip install sounddevice  (or: pip install 'rtcbot[audio]'; it needs the PortAudio "
    "library, e.g. apt install libportaudio2)",
    "pynmea2": "pip install pynmea2  (or: pip install 'rtcbot[gps]')",
    "libcamera": "on Raspberry Pi OS: sudo apt install python3-libcamera",
    "picamera2": "on Raspberry Pi OS: sudo apt install python3-picamera2 (and create the virtual "
    "environment with --system-site-packages)",
}


class MissingLibrary(ImportError):
    """A device's library is not installed."""


def _missing(module: str, device: str) -> MissingLibrary:
    return MissingLibrary(f"{device} needs the '{module}' module, which is not installed. {_HOW_TO_INSTALL[module]}")


def requireLibrary(module: str, device: str) -> None:
    """Raises :class:`MissingLibrary` now (in the parent) if ``module`` is not installed,
    without importing it."""
    if importlib.util.find_spec(module) is None:
        raise _missing(module, device)


def importLibrary(module: str, device: str) -> ModuleType:
    """Imports ``module`` for ``device``; :class:`MissingLibrary` says how to install it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module:
            raise
        raise _missing(module, device) from error
