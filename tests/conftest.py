"""Test harness: async tests run in a debug-mode loop that fails on blocking calls, every
test has a time limit, and every test must leave no thread, fd, child or shm entry behind."""

from __future__ import annotations

import gc
import inspect
import multiprocessing
import os
from collections.abc import Iterator

import pytest

from ._asyncrunner import runAsyncTest
from ._leaks import Resources
from .rigfixtures import audioRig, xDisplay

__all__ = ["audioRig", "xDisplay"]  # session fixtures: the real audio server and X display

DEFAULT_LOOP_TIMEOUT = 10.0

#: Names multiprocessing's default start method for the whole run (CI runs the suite once
#: with ``forkserver``, Python 3.14's default); unset, the interpreter's own default.
START_METHOD_VARIABLE = "RTCBOT_TEST_START_METHOD"


def pytest_configure(config: pytest.Config) -> None:
    method = os.environ.get(START_METHOD_VARIABLE)
    if method:
        multiprocessing.set_start_method(method, force=True)


def pytest_report_header(config: pytest.Config) -> str:
    return f"multiprocessing's default start method: {multiprocessing.get_start_method()}"


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function):
        return None
    marker = pyfuncitem.get_closest_marker("loop_timeout")
    timeout = float(marker.args[0]) if marker else DEFAULT_LOOP_TIMEOUT
    allowErrors = pyfuncitem.get_closest_marker("asyncio_errors_expected") is not None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    runAsyncTest(lambda: function(**kwargs), timeout, allowErrors)
    return True


@pytest.fixture(autouse=True)
def noLeaks() -> Iterator[None]:
    before = Resources.snapshot()
    yield
    gc.collect()  # objects in reference cycles hold fds until the collector runs
    problems = Resources.snapshot().leakedSince(before)
    if problems:
        pytest.fail("the test left resources behind: " + "; ".join(problems))


@pytest.fixture(scope="session", autouse=True)
def multiprocessingHelpers() -> None:
    """Starts multiprocessing's own long-lived helpers (the forkserver and the resource
    tracker) and maps its shared heap (behind ``Value`` and ``Array``, kept for the life of
    the process) before any test's leak snapshot, so they do not count as leaked."""
    from multiprocessing import forkserver, resource_tracker

    resource_tracker.ensure_running()
    forkserver.ensure_running()
    multiprocessing.Value("i")
