"""Real media components for the device tests, started as children of the test process and
stopped by pid: a PulseAudio server with a null sink (the speaker) whose monitor is the
microphone, and an Xvfb virtual display with screenshots through xwd."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLERATE = 48000


class RigUnavailable(RuntimeError):
    """A program a rig needs is not installed."""


def _require(*programs: str) -> None:
    missing = [program for program in programs if shutil.which(program) is None]
    if missing:
        raise RigUnavailable(f"not installed: {', '.join(missing)} (run scripts/system-packages as root)")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _waitFor(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)


@dataclass
class AudioRig:
    """A PulseAudio server (no daemon: our child) with sink ``loop`` at 48 kHz; its monitor
    is the default source. A keep-alive recorder keeps the sink rendering in 10 ms steps
    (an idle null sink renders 2 s blocks, stalling a new recorder for up to 2 s)."""

    directory: Path
    environment: dict[str, str]
    server: subprocess.Popen[bytes]
    keeper: subprocess.Popen[bytes]

    @classmethod
    def start(cls, directory: Path) -> AudioRig:
        _require("pulseaudio", "parec")
        runtime = directory / "xdg"
        runtime.mkdir(mode=0o700, parents=True)
        (directory / "state").mkdir()
        environment = {
            "XDG_RUNTIME_DIR": str(runtime),
            "PULSE_STATE_PATH": str(directory / "state"),
            "PULSE_SERVER": f"unix:{runtime}/pulse/native",
            "PULSE_COOKIE": str(directory / "cookie"),
        }
        childEnvironment = {**os.environ, **environment}
        with open(directory / "pulseaudio.log", "wb") as log:
            server = subprocess.Popen(
                [
                    "pulseaudio",
                    "--daemonize=no",
                    "--exit-idle-time=-1",
                    "--disallow-exit",
                    "-n",
                    "-L",
                    "module-native-protocol-unix auth-anonymous=1 auth-cookie-enabled=0",
                    "-L",
                    f"module-null-sink sink_name=loop rate={SAMPLERATE} sink_properties=device.description=Loopback",
                    "-L",
                    "module-always-sink",
                ],
                env=childEnvironment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        keeper = None
        try:
            _waitFor(
                lambda: _accepts(runtime / "pulse" / "native") or server.poll() is not None, 10, "pulseaudio start"
            )
            if server.poll() is not None:
                raise RuntimeError(f"pulseaudio exited: {(directory / 'pulseaudio.log').read_text()[-2000:]}")
            keeper = subprocess.Popen(
                _recorder(),
                env=childEnvironment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _waitFor(lambda: _monitorDelivers(childEnvironment), 10, "low-latency capture from the null sink")
        except BaseException:
            if keeper is not None:
                _stop(keeper)
            _stop(server)
            raise
        return cls(directory, environment, server, keeper)

    def stop(self) -> None:
        _stop(self.keeper)
        _stop(self.server)


def _recorder() -> list[str]:
    return [
        "parec",
        "--raw",
        "--latency-msec=10",
        "-d",
        "loop.monitor",
        "--rate",
        "8000",
        "--channels",
        "1",
        "--format",
        "s16le",
    ]


def _accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _monitorDelivers(environment: dict[str, str]) -> bool:
    """True if a fresh recorder of the monitor gets data within 0.3 s."""
    probe = subprocess.Popen(
        _recorder(), env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert probe.stdout is not None
        return bool(select.select([probe.stdout], [], [], 0.3)[0]) and bool(os.read(probe.stdout.fileno(), 64))
    finally:
        _stop(probe)
        if probe.stdout is not None:
            probe.stdout.close()


@dataclass
class XDisplay:
    """An Xvfb server on a free display number (it tells us which through -displayfd)."""

    display: str
    server: subprocess.Popen[bytes]

    @classmethod
    def start(cls, width: int = 1920, height: int = 1080) -> XDisplay:
        _require("Xvfb", "xwd")
        readEnd, writeEnd = os.pipe()
        try:
            server = subprocess.Popen(
                [
                    "Xvfb",
                    "-displayfd",
                    str(writeEnd),
                    "-screen",
                    "0",
                    f"{width}x{height}x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ],
                pass_fds=(writeEnd,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        finally:
            os.close(writeEnd)
        with os.fdopen(readEnd, "rb") as numbers:
            number = numbers.readline().strip()
        if not number:
            _stop(server)
            raise RuntimeError("Xvfb exited before reporting its display number")
        return cls(f":{number.decode()}", server)

    def stop(self) -> None:
        _stop(self.server)

    def windowScreenshot(self, title: str) -> np.ndarray | None:
        """The window's pixels as (height, width, 3) RGB, or None if no such window is mapped."""
        environment = {**os.environ, "DISPLAY": self.display}
        tree = subprocess.run(["xwd", "-silent", "-name", title], capture_output=True, env=environment)
        if tree.returncode != 0:
            return None
        return parseXwd(tree.stdout)


def parseXwd(data: bytes) -> np.ndarray:
    """An XWD image (ZPixmap, 32 bits per pixel, as Xvfb at depth 24 gives) as RGB."""
    header = np.frombuffer(data[:100], ">u4")
    headerSize, pixmapFormat, width, height = int(header[0]), int(header[2]), int(header[4]), int(header[5])
    byteOrder, bitsPerPixel, bytesPerLine = int(header[7]), int(header[11]), int(header[12])
    masks = [int(m) for m in header[14:17]]
    colours = int(header[19])
    if pixmapFormat != 2 or bitsPerPixel != 32:
        raise ValueError(f"expected a 32-bit ZPixmap screenshot, got format {pixmapFormat}, {bitsPerPixel} bits")
    offset = headerSize + colours * 12
    pixels = np.frombuffer(data[offset : offset + height * bytesPerLine], "<u4" if byteOrder == 0 else ">u4")
    pixels = pixels.reshape(height, bytesPerLine // 4)[:, :width]
    channels = [((pixels & mask) >> ((mask & -mask).bit_length() - 1)).astype(np.uint8) for mask in masks]
    return np.dstack(channels)
