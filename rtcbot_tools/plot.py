"""The profiler's PNG: latency histograms of every run, each stage of the first run, and
every run's p50/p99 side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .report import runLabel
from .scenarios import RunResult
from .stages import HISTOGRAM_EDGES_US, StageStatistics

MAX_SERIES = 10


def _endToEnd(run: RunResult) -> StageStatistics | None:
    """The stage that spans the whole way (the last one listed)."""
    return run.stages[-1] if run.stages else None


def writePlot(path: Path, runs: list[RunResult], title: str) -> None:
    """Writes the PNG: end-to-end histograms per run, the first run's stages, p50/p99 of every run."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (histograms, stages, summary) = pyplot.subplots(3, 1, figsize=(11, 13), constrained_layout=True)
    figure.suptitle(title)
    centres = np.sqrt(HISTOGRAM_EDGES_US[:-1] * HISTOGRAM_EDGES_US[1:])
    for run in runs[:MAX_SERIES]:
        stage = _endToEnd(run)
        if stage is not None and stage.samples:
            share = np.array(stage.histogram) / stage.samples * 100
            histograms.step(centres, share, where="mid", label=f"{runLabel(run)}: {stage.name}")
    occupied = [i for run in runs for stage in [_endToEnd(run)] if stage for i, c in enumerate(stage.histogram) if c]
    if occupied:
        histograms.set_xlim(
            HISTOGRAM_EDGES_US[max(min(occupied) - 2, 0)], HISTOGRAM_EDGES_US[min(max(occupied) + 3, len(centres))]
        )
    histograms.set_xscale("log")
    histograms.set_xlabel("latency (µs, log scale)")
    histograms.set_ylabel("% of frames")
    histograms.set_title("end-to-end latency, per run")
    histograms.legend(fontsize="small")
    histograms.grid(True, which="both", alpha=0.3)

    first = runs[0] if runs else None
    if first is not None and first.stages:
        names = [stage.name for stage in first.stages]
        positions = np.arange(len(names))
        for offset, percentile in zip((-0.3, -0.1, 0.1, 0.3), ("p50", "p90", "p99", "p99.9"), strict=True):
            values = [max(stage.us.get(percentile, 0.0), 0.1) for stage in first.stages]
            stages.barh(positions + offset, values, height=0.2, label=percentile)
        stages.set_yticks(positions, names)
        stages.invert_yaxis()
        stages.set_xscale("log")
        stages.set_xlabel("µs (log scale)")
        stages.set_title(f"stages of {runLabel(first)}")
        stages.legend(fontsize="small")
        stages.grid(True, axis="x", which="both", alpha=0.3)

    labelled = [(runLabel(run), _endToEnd(run)) for run in runs]
    shown = [(label, stage) for label, stage in labelled if stage is not None and stage.us]
    positions = np.arange(len(shown))
    for offset, percentile in ((-0.2, "p50"), (0.2, "p99")):
        summary.bar(positions + offset, [stage.us[percentile] for _, stage in shown], width=0.4, label=percentile)
    summary.set_xticks(positions, [label for label, _ in shown], rotation=30, ha="right", fontsize="small")
    summary.set_yscale("log")
    summary.set_ylabel("end-to-end latency (µs, log scale)")
    summary.set_title("p50 and p99 of every run")
    summary.legend(fontsize="small")
    summary.grid(True, axis="y", which="both", alpha=0.3)
    figure.savefig(path, dpi=90)
    pyplot.close(figure)
