"""Devices: producers and consumers of real media. Importing this loads no device library;
each device imports its own (cv2, sounddevice, picamera2) in its child process."""

from ._audiodevice import AudioDeviceError
from ._audiostatus import AudioStatus
from ._libraries import MissingLibrary
from ._source import SourceState, SourceStatus, VideoFormat
from ._xdisplay import DisplayUnavailable
from .cvcamera import CVCamera, SourceError
from .display import CVDisplay
from .gps import GPS
from .microphone import Microphone, SyntheticMicrophone
from .picamera import PiCamera2
from .speaker import Speaker
from .synthetic import SyntheticCamera

__all__ = [
    "AudioDeviceError",
    "AudioStatus",
    "CVCamera",
    "CVDisplay",
    "DisplayUnavailable",
    "GPS",
    "Microphone",
    "MissingLibrary",
    "PiCamera2",
    "SourceError",
    "SourceState",
    "SourceStatus",
    "Speaker",
    "SyntheticCamera",
    "SyntheticMicrophone",
    "VideoFormat",
]
