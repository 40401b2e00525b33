"""The profiler's output: a table for people, ratios against the baselines, and JSON."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .scenarios import TOTAL, RunResult
from .stages import PERCENTILES

_COLUMNS = [*PERCENTILES, "max", "mean"]


def runLabel(run: RunResult) -> str:
    """A run's name in tables and plots, e.g. 'rtcbot 1920x1080 ×4 +slow'."""
    label = f"{run.transport} {run.size} ×{run.subscribers}"
    if run.slow:
        label += " +slow"
    if run.display:
        label += " +display"
    return label


def table(runs: list[RunResult]) -> str:
    """One block of rows per run: its frames, fps, drops, then each stage's percentiles (µs)."""
    header = f"{'run':<30}{'frames':>7}{'fps':>8}{'drops':>7}  {'stage (µs)':<42}" + "".join(
        f"{name:>10}" for name in _COLUMNS
    )
    lines = [header, "-" * len(header)]
    for run in runs:
        prefix = f"{runLabel(run):<30}{run.frames:>7}{run.fps:>8.1f}{sum(run.drops.values()):>7}  "
        if not run.stages:
            lines.append(prefix + "(no frame measured)")
        for index, stage in enumerate(run.stages):
            values = "".join(f"{stage.us.get(name, float('nan')):>10.1f}" for name in _COLUMNS)
            lines.append((prefix if index == 0 else " " * len(prefix)) + f"{stage.name:<42}" + values)
    return "\n".join(lines)


def details(runs: list[RunResult]) -> str:
    """Drops by cause and each process's CPU and peak memory, per run."""
    lines = ["drops by cause, and processes (CPU % of one core, peak resident MB):"]
    for run in runs:
        causes = ", ".join(f"{cause} {count}" for cause, count in run.drops.items() if count) or "none"
        processes = ", ".join(f"{p.name} {p.cpuPercent:.0f}% {p.peakRssMb:.0f} MB" for p in run.processes)
        lines.append(f"  {runLabel(run)}: drops: {causes}; {processes}")
    return "\n".join(lines)


def ratios(runs: list[RunResult]) -> list[dict[str, Any]]:
    """For each baseline run, rtcbot's figures divided by the baseline's in the same setting
    (latency below 1 and fps above 1: rtcbot is better). A WebRTC run is divided by the bare
    pipeline's instead (what going through WebRTC costs), labelled "webrtc ÷ pipeline"."""
    result = []
    for run in runs:
        if run.transport == "rtcbot":
            continue
        pipeline = next(
            (
                r
                for r in runs
                if r.transport == "rtcbot" and (r.size, r.subscribers, r.slow) == (run.size, run.subscribers, run.slow)
            ),
            None,
        )
        if pipeline is None:
            continue
        ours, theirs = (run, pipeline) if run.transport in ("webrtc", "attached") else (pipeline, run)
        mine, baseline = ours.stage(TOTAL), theirs.stage(TOTAL)
        if mine is None or baseline is None:
            continue
        label = {"webrtc": "webrtc ÷ pipeline", "attached": "attached ÷ in-program"}.get(run.transport, run.transport)
        entry: dict[str, Any] = {
            "setting": f"{run.size} ×{run.subscribers}" + (" +slow" if run.slow else ""),
            "baseline": label,
        }
        for name in ("p50", "p99", "mean"):
            entry[f"latency {name}"] = round(mine.us[name] / baseline.us[name], 3) if baseline.us.get(name) else None
        entry["fps"] = round(ours.fps / theirs.fps, 3) if theirs.fps else None
        result.append(entry)
    return result


def ratioText(entries: list[dict[str, Any]]) -> str:
    """The ratios, as lines for people."""
    if not entries:
        return ""
    lines = [f"rtcbot ÷ baseline, {TOTAL} (latency < 1: rtcbot is faster; fps > 1: rtcbot delivers more):"]
    for entry in entries:
        lines.append(
            f"  {entry['setting']:<22} vs {entry['baseline']:<7} latency p50 {entry['latency p50']}, "
            f"p99 {entry['latency p99']}, mean {entry['latency mean']}; fps {entry['fps']}"
        )
    return "\n".join(lines)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """What the figures were measured on."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu": model,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "rtcbot": _version("rtcbot"),
        "numpy": _version("numpy"),
        "opencv-python": _version("opencv-python"),
        "sounddevice": _version("sounddevice"),
    }


def writeJson(path: Path, arguments: dict[str, Any], runs: list[RunResult]) -> None:
    """Writes the runs, their ratios, the arguments and the environment as JSON."""
    document = {
        "environment": environment(),
        "arguments": arguments,
        "units": "microseconds; histogram bins: rtcbot_tools.stages.HISTOGRAM_EDGES_US",
        "runs": [asdict(run) for run in runs],
        "ratios": ratios(runs),
    }
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
