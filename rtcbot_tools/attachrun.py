"""``rtcbot-latency --attach NAME --compare``: the source published as NAME, measured by its
in-program subscriber and, in the same run, by another profiler process attached to it."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rtcbot import Frame
from rtcbot.base import BaseSubscriptionProducer

from .scenarios import ProfilerError, RunResult, Scenario, runRtcbot
from .stages import StageStatistics
from .usage import ProcessUsage


def runFromJson(document: dict[str, Any]) -> RunResult:
    """A RunResult written by ``rtcbot-latency --json``."""
    fields = dict(document)
    fields["stages"] = [StageStatistics(**stage) for stage in fields["stages"]]
    fields["processes"] = [ProcessUsage(**usage) for usage in fields["processes"]]
    return RunResult(**fields)


async def _attachedProfiler(scenario: Scenario, source: BaseSubscriptionProducer[Frame]) -> RunResult:
    assert scenario.stream is not None
    publication = source.publish(scenario.stream)
    try:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "attached.json"
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "rtcbot_tools.latency",
                "--attach",
                scenario.stream,
                "--seconds",
                str(scenario.seconds),
                "--json",
                str(out),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await process.communicate()
            if process.returncode:
                lines = err.decode(errors="replace").strip().splitlines()
                raise ProfilerError(f"the attached profiler failed: {lines[-1] if lines else process.returncode}")
            run = runFromJson(json.loads(out.read_text())["runs"][0])
    finally:
        publication.close()
        await publication
    return replace(run, source=scenario.source, size=scenario.size.label)


async def runPublished(scenario: Scenario, tick: Callable[[float], None]) -> list[RunResult]:
    """The in-program run of the source, published meanwhile, and the attached program's run."""
    return await runRtcbot(
        replace(scenario, transport="rtcbot"), tick, alongside=lambda source: _attachedProfiler(scenario, source)
    )
