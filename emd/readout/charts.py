"""A key measure's trend over the last periods as a PNG line chart (matplotlib's Agg backend, its bundled
DejaVu font: nothing is fetched), for destinations that take images rather than native charts (Notion).
The values are the readout's trend points as they are; a period without data is a gap in the line."""

from __future__ import annotations

import io

from emd.metrics.catalogue import CATALOGUE, format_value
from emd.readout.content import TrendPoint

WIDTH_IN, HEIGHT_IN, DPI = 6.4, 3.0, 100  # 640 x 300 px, the size of one pptx chart


def chart_title(key: str) -> str:
    spec = CATALOGUE[key]
    unit = "%" if spec.unit in ("rate", "%") else spec.unit
    return f"{spec.label} ({unit})"


def trend_png(key: str, points: tuple[TrendPoint, ...] | list[TrendPoint]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spec = CATALOGUE[key]
    scale = 100 if spec.unit == "rate" else 1  # shown as the dashboard shows it: a rate in percent
    labels = [p.period for p in points]
    values = [float("nan") if p.value is None else p.value * scale for p in points]
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)  # not pyplot: no global state, safe in threads
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(range(len(points)), values, marker="o", color="#1f6feb", linewidth=2)
    for x, (point, value) in enumerate(zip(points, values, strict=True)):
        if point.value is not None:  # labelled as the tables on the page show it
            axes.annotate(format_value(spec, point.value), (x, value), textcoords="offset points",
                          xytext=(0, 6), ha="center", fontsize=8)
    axes.set_title(chart_title(key), fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    if all(v != v for v in values):
        axes.text(0.5, 0.5, "no data in these periods", transform=axes.transAxes, ha="center", va="center",
                  color="#666666")
        axes.set_yticks([])
    else:
        axes.margins(y=0.25)
    axes.set_xlim(-0.5, len(points) - 0.5)
    axes.set_xticks(range(len(points)), labels, fontsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
