"""Opening a sounddevice stream in a device's child process, with errors that say what to do."""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

from ._audiostatus import AudioStatus, AudioWatch, StatusReporter
from ._libraries import importLibrary, requireLibrary


class AudioDeviceError(RuntimeError):
    """An audio device cannot be found or opened."""


def importSounddevice(device: str) -> Any:
    """sounddevice, with a PortAudio of this process's own: one inherited through fork
    shares the parent's connections and lists only the devices present at its import."""
    inherited = "sounddevice" in sys.modules
    sd = importLibrary("sounddevice", device)
    if inherited:
        sd._terminate()
        sd._initialize()
    # sounddevice (0.5.x) sets ndarray.shape inside its stream callback, which NumPy 2.5
    # deprecates; under warnings-as-errors that warning would abort the stream.
    warnings.filterwarnings("ignore", "Setting the shape on a NumPy array", DeprecationWarning)
    return sd


def checkStreamRunning(stream: Any, kind: str) -> None:
    """Raises when PortAudio stopped the stream on its own (its callback raised: the
    traceback is on the child's stderr), instead of waiting forever for audio."""
    if not stream.active:
        raise AudioDeviceError(
            f"the audio {kind} stream stopped by itself: its callback raised (see the traceback "
            "printed above) or the device went away"
        )


def checkAudioSettings(samplerate: float, channels: int | None, blocksize: int) -> None:
    """Refuses impossible settings in the parent, before any process starts."""
    if not isinstance(samplerate, int | float) or not samplerate > 0 or math.isinf(samplerate):
        raise ValueError(f"samplerate must be a positive number of samples per second, got {samplerate!r}")
    if channels is not None and (not isinstance(channels, int) or isinstance(channels, bool) or channels < 1):
        raise ValueError(f"channels must be a positive whole number (or None for the device's), got {channels!r}")
    if not isinstance(blocksize, int) or isinstance(blocksize, bool) or blocksize < 1:
        raise ValueError(f"blocksize must be a positive whole number of samples, got {blocksize!r}")


def _devicesText(sd: Any, kind: str) -> str:
    key = f"max_{kind}_channels"
    names = [f"{index}: {info['name']!r}" for index, info in enumerate(sd.query_devices()) if info[key] > 0]
    return ", ".join(names) if names else "none (is a sound server running and reachable?)"


def _describe(device: Any) -> str:
    return "the default device" if device is None else f"device {device!r}"


def resolveChannels(sd: Any, device: Any, kind: str, channels: int | None) -> int:
    """``channels``, or for None the device's own count, at most two."""
    try:
        info = sd.query_devices(device, kind)
    except Exception as error:
        raise AudioDeviceError(
            f"no {kind} audio {_describe(device)}: {error}. {kind.capitalize()} devices: {_devicesText(sd, kind)}"
        ) from None
    return channels if channels is not None else max(1, min(2, int(info[f"max_{kind}_channels"])))


class SoundCardDevice(AudioWatch):
    """What a microphone and a speaker share: their settings, and opening their stream."""

    def _initSoundCard(
        self, samplerate: float, channels: int | None, blocksize: int, device: int | str | None, latency: float | str
    ) -> None:
        requireLibrary("sounddevice", type(self).__name__)
        checkAudioSettings(samplerate, channels, blocksize)
        self.samplerate, self.channels, self.blocksize = samplerate, channels, blocksize
        self.device, self.latency = device, latency

    def _openSoundCard(self, sd: Any, kind: str, channels: int, callback: Any) -> tuple[Any, StatusReporter]:
        """In the child: the started stream ('input' or 'output') and a reporter of its status."""
        streamClass = sd.InputStream if kind == "input" else sd.OutputStream
        settings = dict(samplerate=self.samplerate, channels=channels, blocksize=self.blocksize, device=self.device)
        try:
            stream = streamClass(dtype="float32", latency=self.latency, callback=callback, **settings)
            stream.start()
        except Exception as error:
            raise AudioDeviceError(
                f"cannot open {_describe(self.device)} for audio {kind} at {self.samplerate} Hz, "
                f"{channels} channel(s): {error}. {kind.capitalize()} devices: {_devicesText(sd, kind)}"
            ) from None
        name = str(sd.query_devices(stream.device, kind)["name"])
        status = AudioStatus(name, stream.samplerate, channels, self.blocksize, stream.latency)
        return stream, StatusReporter(self._notify, status)
