"""Fixtures starting the real media rigs (see tests/rigs.py) once per session. Without the
programs a rig needs, its tests are skipped, except in CI (CI=true), where that fails."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from .rigs import AudioRig, RigUnavailable, XDisplay


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"a test rig is missing in CI: {reason}")
    pytest.skip(reason)


class _Environment:
    """Sets variables for the session and puts the old values back."""

    def __init__(self, values: dict[str, str]) -> None:
        self._saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def audioRig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AudioRig]:
    try:
        rig = AudioRig.start(Path(tmp_path_factory.mktemp("audio-rig")))
    except RigUnavailable as error:
        _unavailable(str(error))
    environment = _Environment(rig.environment)
    if "sounddevice" in sys.modules:  # PortAudio lists devices once, when initialised
        sd = sys.modules["sounddevice"]
        sd._terminate()
        sd._initialize()
    yield rig
    environment.restore()
    rig.stop()


@pytest.fixture(scope="session")
def xDisplay() -> Iterator[XDisplay]:
    try:
        display = XDisplay.start()
    except RigUnavailable as error:
        _unavailable(str(error))
    environment = _Environment({"DISPLAY": display.display})
    yield display
    environment.restore()
    display.stop()
