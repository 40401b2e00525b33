"""rtcbot binds event loops through public asyncio API only (issue 15, defect 3): the
policy functions are deprecated in 3.14 and gone in 3.16, and ``_set_running_loop`` and
``_get_running_loop`` are private. Here each of them raises, in this process and (inherited
through fork) in the children, while objects are made before a loop, in the legacy
current-loop pattern and inside ``asyncio.run``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .processes import Counter
from .test_thread import Counter as ThreadCounter

FORBIDDEN = ("get_event_loop_policy", "set_event_loop_policy", "_set_running_loop", "_get_running_loop")
PACKAGE = Path(__file__).resolve().parents[2] / "rtcbot"


@pytest.fixture
def privateAsyncioRefused(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refusing(name: str) -> object:
        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"rtcbot called asyncio.{name}()")

        return refuse

    for name in FORBIDDEN:
        monkeypatch.setattr(asyncio, name, refusing(name))
    yield


def test_the_package_names_no_policy_function_and_no_private_asyncio() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"event_loop_policy|_set_running_loop|asyncio\._", line)
    ]
    assert offenders == []


@pytest.mark.parametrize("startMethod", ["fork", "spawn"])
def test_a_process_producer_made_before_the_loop_works_inside_asyncio_run(
    startMethod: str, privateAsyncioRefused: None, multiprocessingHelpers: None
) -> None:
    counter = Counter(5, frameEvery=2, defaultAutosubscribe=True, startMethod=startMethod)

    async def main() -> list[object]:
        items = [await asyncio.wait_for(counter.get(), 10) for _ in range(8)]
        await asyncio.wait_for(counter, 10)
        return [item for item in items if isinstance(item, int)]

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]
    assert counter.error is None


def test_the_legacy_current_loop_pattern_binds_without_private_api(privateAsyncioRefused: None) -> None:
    """RTCBot examples create a loop, set it, build objects, then run it."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        counter = ThreadCounter(2, defaultAutosubscribe=True)

        async def main() -> list[int]:
            items = [await counter.get(), await counter.get()]
            await counter
            return items

        assert loop.run_until_complete(main()) == [0, 1]
        assert counter._loopBinding.loop is loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_no_current_loop_is_created_nor_warned_about(privateAsyncioRefused: None) -> None:
    """Made with no loop set: nothing is bound yet, and no loop was created on the way."""
    counter = ThreadCounter(1)
    assert counter._loopBinding.loop is None
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    counter.close()
