"""The package surface: import paths of the API document, light imports, docstrings, demo."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import rtcbot
import rtcbot.base
import rtcbot.base.base
import rtcbot.base.events
import rtcbot.base.multiprocess
import rtcbot.base.thread
import rtcbot.subscriptions

ROOT = Path(__file__).resolve().parent.parent

API_PATHS = {
    rtcbot.base.events: ["baseEventHandler", "threadedEventHandler"],
    rtcbot.base.base: [
        "BaseSubscriptionConsumer",
        "BaseSubscriptionProducer",
        "ClosedBeforeReady",
        "ConsumerClosed",
        "NoClosedSubscription",
        "ProducerClosed",
        "SourceEnded",
        "Subscription",
        "SubscriptionClosed",
        "SubscriptionConsumer",
        "SubscriptionProducer",
        "SubscriptionProducerConsumer",
    ],
    rtcbot.base.thread: ["ThreadedSubscriptionConsumer", "ThreadedSubscriptionProducer"],
    rtcbot.base.multiprocess: [
        "ProcessSubscriptionConsumer",
        "ProcessSubscriptionProducer",
        "ProcessSubscriptionProducerConsumer",
    ],
    rtcbot.subscriptions: [
        "CallbackSubscription",
        "DelayedSubscription",
        "EventSubscription",
        "GetterSubscription",
        "MostRecentSubscription",
        "RebatchSubscription",
    ],
}


@pytest.mark.parametrize("module, name", [(module, name) for module, names in API_PATHS.items() for name in names])
def test_every_documented_name_is_at_its_documented_path_and_re_exported(module: object, name: str) -> None:
    obj = getattr(module, name)
    if module is not rtcbot.base.events:
        assert getattr(rtcbot, name) is obj
    if module in (rtcbot.base.base, rtcbot.base.thread, rtcbot.base.events, rtcbot.base.multiprocess):
        assert getattr(rtcbot.base, name) is obj


def test_internalSubscriptionMessage_is_where_the_API_document_puts_it() -> None:
    message = rtcbot.base.multiprocess.internalSubscriptionMessage(1, b"x")
    assert (message.type, message.value) == (1, b"x")


def test_SubscriptionClosed_pickles_under_its_documented_module() -> None:
    error = pickle.loads(pickle.dumps(rtcbot.SubscriptionClosed("done")))
    assert isinstance(error, rtcbot.SubscriptionClosed) and str(error) == "done"
    assert rtcbot.SubscriptionClosed.__module__ == "rtcbot.base.base"


def _runFresh(code: str) -> None:
    """Runs ``code`` in a fresh interpreter with warnings as errors; it must exit 0."""
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_rtcbot_loads_no_device_library_and_warns_about_nothing() -> None:
    _runFresh(
        "import sys, rtcbot; from rtcbot import *; "
        "heavy = [m for m in ('cv2', 'sounddevice', 'aiortc', 'av', 'aiohttp') if m in sys.modules]; "
        "sys.exit(f'imported {heavy}' if heavy else 0)"
    )


def test_RTCConnection_loads_the_webrtc_extra_on_first_use() -> None:
    _runFresh(
        "import sys, rtcbot; assert 'aiortc' not in sys.modules; "
        "from rtcbot import RTCConnection; from rtcbot.webrtc import RTCConnection as direct; "
        "assert RTCConnection is direct and 'aiortc' in sys.modules"
    )


def test_an_unknown_name_is_still_an_AttributeError() -> None:
    with pytest.raises(AttributeError, match="no attribute 'RTCConection'"):
        rtcbot.RTCConection  # noqa: B018


def _publicMembers() -> list[tuple[str, object]]:
    members: list[tuple[str, object]] = []
    for module in API_PATHS:
        for name in module.__all__:  # type: ignore[attr-defined]
            obj = getattr(module, name)
            members.append((f"{module.__name__}.{name}", obj))  # type: ignore[attr-defined]
            if inspect.isclass(obj):
                for attribute, value in vars(obj).items():
                    if not attribute.startswith("_") and (inspect.isfunction(value) or isinstance(value, property)):
                        members.append((f"{module.__name__}.{name}.{attribute}", value))  # type: ignore[attr-defined]
    return members


def test_every_public_class_and_method_has_a_docstring() -> None:
    missing = [name for name, obj in _publicMembers() if not inspect.getdoc(obj)]
    assert not missing, f"no docstring: {missing}"


def test_the_demo_runs_and_reports_every_stage() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(ROOT / "examples" / "pipeline_demo.py"), "--seconds", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for stage in ("camera:", "fast subscriber:", "slow subscriber", "brightness meter:"):
        assert stage in result.stdout
    assert result.stderr == ""


def test_the_demo_rejects_bad_arguments_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "pipeline_demo.py"), "--fps", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "must be positive" in result.stderr
