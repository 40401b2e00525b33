"""Watchdog between the commands and a stand-in motor consumer (it records what it was told
and when; no motor exists here): commands pass, the safe value comes when they stop and
when the link is lost."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from rtcbot import SubscriptionConsumer, Watchdog
from rtcbot.webrtc import PeerGone

from .webrtc.peers import connectedPair

pytestmark = pytest.mark.loop_timeout(20)

STOP = {"left": 0, "right": 0}


class MotorsStandIn(SubscriptionConsumer[Any]):
    """A STAND-IN for a motor driver: records each command it is given, with the time."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[tuple[float, Any]] = []
        self.changed = asyncio.Event()
        self._task = asyncio.ensure_future(self._drive())

    async def _drive(self) -> None:
        while not self.closed:
            try:
                command = await self._get()
            except Exception:
                return
            self.told.append((time.monotonic(), command))
            self.changed.set()

    async def next(self) -> tuple[float, Any]:
        count = len(self.told)
        while len(self.told) == count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 5)
        return self.told[count]

    def close(self) -> None:
        super().close()
        self._task.cancel()


async def test_commands_pass_and_the_safe_value_comes_once_when_they_stop() -> None:
    watchdog = Watchdog(STOP, timeout=0.3)
    motors = MotorsStandIn()
    motors.putSubscription(watchdog)
    try:
        for speed in (10, 20):
            watchdog.put_nowait({"left": speed, "right": speed})
            assert (await motors.next())[1] == {"left": speed, "right": speed}
        lastCommand = time.monotonic()
        stoppedAt, value = await motors.next()
        assert value == STOP and 0.28 <= stoppedAt - lastCommand < 0.5
        watchdog.put_nowait({"left": 5, "right": 5})  # driving again
        assert (await motors.next())[1] == {"left": 5, "right": 5}
        assert (await motors.next())[1] == STOP
        statistics = watchdog.statistics()
        assert (statistics.commands, statistics.timeouts, statistics.linkLosses) == (3, 2, 0)
        assert len(motors.told) == 5  # one safe value per silence, not one per timeout period
    finally:
        watchdog.close()
        motors.close()


@pytest.mark.parametrize("lost", ["peer closed", "peer silent"])
async def test_a_lost_link_stops_the_motors_within_a_second_and_keeps_them_stopped(lost: str) -> None:
    async with connectedPair() as (robot, browser):
        await asyncio.wait_for(robot.onReady(), 10)
        watchdog = Watchdog(STOP, timeout=5, link=robot)  # the timeout alone would take 5 s
        watchdog.putSubscription(robot)
        motors = MotorsStandIn()
        motors.putSubscription(watchdog)
        try:
            browser.put_nowait({"left": 30, "right": 30})
            assert (await motors.next())[1] == {"left": 30, "right": 30}
            while robot.linkState.value != "alive":
                await asyncio.sleep(0.05)
            cut = time.monotonic()
            if lost == "peer closed":
                browser.close()
            else:
                browser._liveness.stop()  # a browser whose tab froze
            stoppedAt, value = await motors.next()
            assert value == STOP and stoppedAt - cut < 1.2
            assert watchdog.statistics().linkLosses == 1
            if lost == "peer silent":
                assert isinstance(robot.error, PeerGone)
        finally:
            watchdog.close()
            motors.close()


def test_bad_arguments_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="timeout must be positive .* or None"):
        Watchdog(STOP, timeout=0)
    with pytest.raises(TypeError, match="link must be an rtcbot object"):
        Watchdog(STOP, link="conn")  # type: ignore[arg-type]
