"""Who may attach: the publishing user (and root) only, or a group it names. The other
user is a uid made for the test (a process of ours that drops root's rights)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from typing import Any

import pytest

from rtcbot import SyntheticCamera

from ..rigfixtures import _unavailable
from .programs import attachAs

OTHER_UID = 54321
OTHER_GID = 54321
VIDEO_GID = 54400  # a group made for the test


@pytest.fixture(autouse=True)
def asRoot() -> None:
    if os.geteuid() != 0:
        _unavailable("the tests of other users need root (to become another uid)")


async def _attachAsOtherUser(name: str, groups: list[int]) -> dict[str, Any]:
    context = multiprocessing.get_context("forkserver")
    receiving, sending = context.Pipe(duplex=False)
    directory = os.environ["RTCBOT_STREAM_DIR"]
    process = context.Process(target=attachAs, args=(OTHER_UID, OTHER_GID, groups, directory, name, sending))
    await asyncio.to_thread(process.start)
    sending.close()
    try:
        ready = await asyncio.to_thread(receiving.poll, 10)
        assert ready, "the other user's program did not report"
        result: dict[str, Any] = receiving.recv()
    finally:
        receiving.close()
        await asyncio.to_thread(process.join, 5)
        process.close()
    return result


async def test_another_user_is_refused_with_a_clear_error() -> None:
    async with SyntheticCamera(64, 48, fps=30) as camera, camera.publish("front") as publication:
        assert oct(os.stat(publication.path).st_mode & 0o777) == "0o600"
        result = await _attachAsOtherUser("front", [])
        assert result.get("error") == "NotAllowedToAttach", result
        assert f"user {OTHER_UID} may not attach to stream 'front'" in result["message"]
        assert "group=" in result["message"], "the error should say how to allow it"


async def test_the_publisher_checks_the_user_even_if_the_socket_is_opened_up() -> None:
    async with SyntheticCamera(64, 48, fps=30) as camera, camera.publish("front") as publication:
        os.chmod(publication.path, 0o666)  # as if someone widened the file's mode
        result = await _attachAsOtherUser("front", [])
        assert result.get("error") == "NotAllowedToAttach", result
        assert "it is published for user 0" in result["message"]
        assert publication.statistics().refused == 1


async def test_a_member_of_the_publications_group_attaches_and_gets_frames() -> None:
    async with SyntheticCamera(64, 48, fps=30) as camera, camera.publish("front", group=VIDEO_GID) as publication:
        status = os.stat(publication.path)
        assert (status.st_mode & 0o777, status.st_gid) == (0o660, VIDEO_GID)
        result = await _attachAsOtherUser("front", [VIDEO_GID])
        assert "error" not in result, result
        assert result["stamp"] == result["seq"], "not the publisher's picture"
        assert result["memfd"] and not result["writable"]
        outsider = await _attachAsOtherUser("front", [])
        assert outsider.get("error") == "NotAllowedToAttach", outsider


async def test_an_unknown_group_is_a_value_error() -> None:
    camera = SyntheticCamera(64, 48, fps=30)
    with pytest.raises(ValueError, match="no group 'no-such-group'"):
        camera.publish("front", group="no-such-group")
    camera.close()
    await camera
