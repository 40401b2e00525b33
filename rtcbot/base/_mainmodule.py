"""Spawned and forkserver children import the program's main module only when they need it.

multiprocessing runs the main module again in every such child (as ``__mp_main__``) so that
what was defined there unpickles. RTCBot's programs make their objects and run their loop at
module level with no ``if __name__ == "__main__":`` guard; run again in a child, such a script
makes a second camera there (multiprocessing refuses: "bootstrapping phase") or serves its
page twice. Python 3.14 makes forkserver the default, so every such program would break.

So a child whose class does not come from the main module starts without it, and imports it
only if its state turns out to need it (a function defined in the script), as multiprocessing
would have: while the child is still starting, so that a guard-less script that makes objects
is refused there, as it is without rtcbot.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import spawn
from typing import Any

#: multiprocessing's preparation keys that make a child run the main module.
_MAIN_KEYS = ("init_main_from_path", "init_main_from_name")
_MAIN_NAMES = ("__main__", "__mp_main__")

_starting = threading.local()
_installLock = threading.Lock()
_original: Any = None


def _preparationData(name: str) -> dict[str, Any]:
    data: dict[str, Any] = _original(name)
    if getattr(_starting, "withoutMain", False):
        for key in _MAIN_KEYS:
            data.pop(key, None)
    return data


def _install() -> None:
    global _original
    with _installLock:
        if _original is None:
            _original = spawn.get_preparation_data
            spawn.get_preparation_data = _preparationData


def mainPreparation() -> dict[str, Any]:
    """What a child needs to import this program's main module later (maybe nothing)."""
    getter = _original if _original is not None else spawn.get_preparation_data
    data: dict[str, Any] = getter("rtcbot")
    return {key: data[key] for key in _MAIN_KEYS if key in data}


@contextmanager
def startingWithoutMain(cls: type[Any]) -> Iterator[None]:
    """Around ``Process.start()`` in this thread: the child does not run the main module,
    unless ``cls`` is defined there."""
    if cls.__module__ in _MAIN_NAMES:
        yield
        return
    _install()
    _starting.withoutMain = True
    try:
        yield
    finally:
        _starting.withoutMain = False


def importMainInChild(preparation: dict[str, Any]) -> None:
    """In a child started without the main module, while multiprocessing still unpickles
    what the child runs (its starting phase): imports it, as multiprocessing would have
    (multiprocessing skips it if the child has it already)."""
    if preparation:
        spawn.prepare(preparation)
