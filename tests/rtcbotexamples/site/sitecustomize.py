"""What the example harness substitutes in an unchanged RTCBot example, and nothing else:

- ``rtcbot.CVCamera`` becomes the synthetic camera (this machine has no camera), with
  CVCamera's arguments and its default size (320x240);
- aiohttp's ``web.run_app`` serves on 127.0.0.1 at ``$RTCBOT_EXAMPLE_PORT`` and prints
  ``serving PORT`` once it listens, so the test knows when to open the page;
- a client's requests to ``localhost:8080`` go to ``127.0.0.1:$RTCBOT_EXAMPLE_SERVER_PORT``;
- ``Gamepad()`` reads ``$RTCBOT_EXAMPLE_GAMEPAD`` (a stand-in device's node);
- the serial port ``/dev/ttyACM0`` becomes ``$RTCBOT_EXAMPLE_SERIAL`` (a stand-in board's pty);
- the default microphone: the sound tests (test_media_examples) choose it with PulseAudio's
  own ``PULSE_SOURCE`` variable (not here), a null sink's monitor that hears a known tone;
- in the suite's forkserver run (``$RTCBOT_TEST_START_METHOD``), multiprocessing's default
  start method, as Python 3.14's own default would be.

Python imports this module at start-up because the harness puts its folder on PYTHONPATH.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import rtcbot
from rtcbot.devices.synthetic import SyntheticCamera


class CameraStandIn(SyntheticCamera):
    """CVCamera's signature on the synthetic test pattern (no camera exists here)."""

    def __init__(
        self, width: int = 320, height: int = 240, cameranumber: Any = 0, fps: int = 30, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(width, height, fps=fps)


rtcbot.CVCamera = CameraStandIn  # type: ignore[misc]

if os.environ.get("RTCBOT_TEST_START_METHOD"):
    multiprocessing.set_start_method(os.environ["RTCBOT_TEST_START_METHOD"], force=True)

_port = os.environ.get("RTCBOT_EXAMPLE_PORT")
if _port is not None:
    from aiohttp import web

    _runApp = web.run_app

    def _runAppOnTheHarnessPort(app: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.update(host="127.0.0.1", port=int(_port), print=lambda _: print("serving", _port, flush=True))
        return _runApp(app, *args, **kwargs)

    web.run_app = _runAppOnTheHarnessPort

_serialPort = os.environ.get("RTCBOT_EXAMPLE_SERIAL")
if _serialPort is not None:
    # A device path substituted: the example's /dev/ttyACM0 is the stand-in board's pty.
    import rtcbot.arduino

    class SerialOnTheHarnessPort(rtcbot.arduino.SerialConnection):
        """SerialConnection with the board's port in place of the example's ``/dev/ttyACM0``."""

        def __init__(self, url: str = "/dev/ttyACM0", *args: Any, **kwargs: Any) -> None:
            super().__init__(_serialPort if url == "/dev/ttyACM0" else url, *args, **kwargs)

    rtcbot.SerialConnection = rtcbot.arduino.SerialConnection = SerialOnTheHarnessPort  # type: ignore[misc]

_serverPort = os.environ.get("RTCBOT_EXAMPLE_SERVER_PORT")
if _serverPort is not None:
    # A port substituted: the example's requests to localhost:8080 go to the harness's port.
    import aiohttp
    from yarl import URL

    _request = aiohttp.ClientSession._request

    async def _requestOnTheHarnessPort(self: Any, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        target = URL(str(url))
        if target.host == "localhost" and target.port == 8080:
            url = target.with_host("127.0.0.1").with_port(int(_serverPort))
        return await _request(self, method, url, *args, **kwargs)

    aiohttp.ClientSession._request = _requestOnTheHarnessPort  # type: ignore[method-assign]

_gamepad = os.environ.get("RTCBOT_EXAMPLE_GAMEPAD")
if _gamepad is not None:
    # A device path substituted: the gamepad is the stand-in device's node.
    import rtcbot.inputs

    class GamepadOnTheHarnessNode(rtcbot.inputs.Gamepad):
        """Gamepad reading the stand-in device's node in place of the first gamepad plugged in."""

        def __init__(self, *args: Any, device: str | None = None, **kwargs: Any) -> None:
            super().__init__(*args, device=device or _gamepad, **kwargs)

    rtcbot.Gamepad = rtcbot.inputs.Gamepad = GamepadOnTheHarnessNode  # type: ignore[misc]
