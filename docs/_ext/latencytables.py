"""Sphinx directives that render the benchmarks' JSON as tables, so the performance figures
in the docs are the tools' own output, never typed by hand.

    .. latency-tables:: performance.json          (rtcbot-latency --json)
    .. streams-tables:: streams-benchmark.json    (scripts/bench-streams)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.application import Sphinx

STAGE_COLUMNS = ["p50", "p90", "p99", "p99.9", "max", "mean"]


def _table(headers: list[str], rows: list[list[str]]) -> nodes.table:
    table = nodes.table()
    group = nodes.tgroup(cols=len(headers))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in headers)
    head, body = nodes.thead(), nodes.tbody()
    for target, cells in ((head, [headers]), (body, rows)):
        for cells_ in cells:
            row = nodes.row()
            for cell in cells_:
                entry = nodes.entry()
                entry += nodes.paragraph(text=cell)
                row += entry
            target += row
    group += head
    group += body
    return table


def _runLabel(run: dict[str, Any]) -> str:
    return f"{run['transport']} {run['size']} ×{run['subscribers']}" + (" +slow" if run["slow"] else "")


def _readJson(directive: Directive) -> dict[str, Any]:
    """The JSON file a directive names (relative to the docs), noted as a dependency so that
    a new file rebuilds the page."""
    environment = directive.state.document.settings.env
    source = Path(environment.srcdir) / directive.arguments[0]
    environment.note_dependency(str(source))
    document: dict[str, Any] = json.loads(source.read_text())
    return document


class LatencyTables(Directive):
    """Renders the environment, every run's stages and the ratios from a profiler JSON file."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        document = _readJson(self)
        environment = document["environment"]
        about = nodes.paragraph(
            text=f"Measured {environment['date']} on {environment['cpu']} ({environment['cores']} cores, "
            f"{environment['machine']}, Linux {environment['kernel']}), Python {environment['python']}, "
            f"numpy {environment['numpy']}, opencv-python {environment['opencv-python']}, "
            f"rtcbot {environment['rtcbot']}."
        )
        rows = []
        for run in document["runs"]:
            for index, stage in enumerate(run["stages"]):
                label = (
                    [_runLabel(run), f"{run['fps']:.1f}", str(sum(run["drops"].values()))]
                    if index == 0
                    else ["", "", ""]
                )
                rows.append(label + [stage["name"]] + [f"{stage['us'][column]:.0f}" for column in STAGE_COLUMNS])
        stages = _table(["run", "fps", "drops", "stage (µs)", *STAGE_COLUMNS], rows)
        ratioRows = [
            [
                entry["setting"],
                entry["baseline"],
                str(entry["latency p50"]),
                str(entry["latency p99"]),
                str(entry["fps"]),
            ]
            for entry in document["ratios"]
        ]
        ratios = _table(["setting", "baseline", "latency p50 (rtcbot ÷ baseline)", "latency p99", "fps"], ratioRows)
        return [about, stages, nodes.paragraph(text="Ratios (capture → subscriber resumed):"), ratios]


class StreamsTables(Directive):
    """Renders every cell of the named-stream benchmark and its ratios."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        document = _readJson(self)
        about = nodes.paragraph(text=f"Measured on {document['machine']}, Python {document['python']}.")
        rows = []
        for cell in document["cells"]:
            latency = cell["latencyUs"]
            rows.append(
                [
                    f"{cell['size']} {cell['rate']}",
                    cell["transport"] if cell["receivers"] else f"{cell['transport']} (none attached)",
                    str(cell["receivers"]),
                    f"{latency['p50'] / 1000:.2f}" if latency else "",
                    f"{latency['p99'] / 1000:.2f}" if latency else "",
                    f"{cell['delivered']:.2f}" if cell["receivers"] else "",
                    f"{cell['senderCpuUsPerFrame']:.0f}",
                    f"{cell['receiverCpuUsPerFrame']:.0f}" if cell["receivers"] else "",
                    f"{cell['copiedBytesPerFrame']:.0f}" if cell["receivers"] else "",
                ]
            )
        headers = [
            "setting",
            "transport",
            "programs",
            "p50 ms",
            "p99 ms",
            "got",
            "sender µs/frame",
            "receiver µs/frame",
            "copied B/frame",
        ]
        ratioColumns = [key for key in document["ratios"][0] if key not in ("size", "rate", "receivers")]
        ratioRows = [
            [f"{row['size']} {row['rate']}", str(row["receivers"]), *[str(row.get(key, "")) for key in ratioColumns]]
            for row in document["ratios"]
        ]
        return [
            about,
            _table(headers, rows),
            nodes.paragraph(
                text="Ratios of attached programs (capture → coroutine resumed, p50) and of the publisher's CPU:"
            ),
            _table(["setting", "programs", *ratioColumns], ratioRows),
        ]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("latency-tables", LatencyTables)
    app.add_directive("streams-tables", StreamsTables)
    return {"parallel_read_safe": True, "version": "1"}
