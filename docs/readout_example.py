"""Regenerate docs/readout-example.png: two slides of an example readout, drawn from the PowerPoint file.

The readout is that of the tests' fixed period: the hand-made marts of tests/fixtures/marts.py (whose values
tests/test_readout.py computes by hand), 2026-03 against 2026-02, without the model: numbers a reader can check.
(bench/bench_app.py's generated warehouse is random, and `make demo` needs the whole pipeline.) No office
suite runs here, so the slides are drawn with Pillow (which python-pptx already needs) from what the .pptx
holds: the title, each table's cells and each native chart's series, at the shapes' own positions. It is a picture of the content, not of PowerPoint's styling.

    .venv/bin/python docs/readout_example.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 1280  # pixels of one slide; PowerPoint's 13.333 in x 7.5 in keeps 16:9
SLIDES = ("Delivery (DORA)", "Trends over 6 months (1/2)")
INK, GRID, HEADER, LINE = (32, 33, 36), (200, 204, 210), (232, 238, 247), (26, 115, 232)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:  # DejaVu has every glyph the deck uses (the em dash of "no value"); Pillow's own font lacks some
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _wrapped(draw: ImageDraw.ImageDraw, text: str, width: int, font) -> list[str]:
    """The cell's text in lines that fit `width`, as PowerPoint wraps a table cell."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and draw.textlength(lines[-1] + " " + word, font=font) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def draw_slide(slide, slide_width: int, slide_height: int) -> Image.Image:
    scale = WIDTH / slide_width
    image = Image.new("RGB", (WIDTH, int(slide_height * scale)), "white")
    draw = ImageDraw.Draw(image)

    def box(shape) -> tuple[int, int, int, int]:
        left, top = int(shape.left * scale), int(shape.top * scale)
        return left, top, left + int(shape.width * scale), top + int(shape.height * scale)

    for shape in slide.shapes:
        if shape.is_placeholder and shape.has_text_frame and shape == slide.shapes.title:
            draw.text((40, 30), shape.text_frame.text, font=_font(40), fill=INK)
        elif shape.has_table:
            left, top, right, _ = box(shape)
            rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
            widths = [int(c.width * scale) for c in shape.table.columns]
            font, line_height = _font(18), 24
            y = top
            for r, row in enumerate(rows):
                cells = [_wrapped(draw, text, widths[c] - 16, font) for c, text in enumerate(row)]
                height = 20 + line_height * max(len(lines) for lines in cells)
                if r == 0:
                    draw.rectangle((left, y, right, y + height), fill=HEADER)
                x = left
                for c, lines in enumerate(cells):
                    for n, line in enumerate(lines):
                        draw.text((x + 8, y + 10 + n * line_height), line, font=font, fill=INK)
                    x += widths[c]
                y += height
                draw.line((left, y, right, y), fill=GRID, width=1)
        elif shape.has_chart:
            left, top, right, bottom = box(shape)
            chart = shape.chart
            draw.rectangle((left, top, right, bottom), outline=GRID)
            draw.text((left + 12, top + 8), chart.chart_title.text_frame.text, font=_font(18), fill=INK)
            categories = list(chart.plots[0].categories)
            values = list(chart.series[0].values)
            known = [v for v in values if v is not None]
            plot = (left + 60, top + 48, right - 24, bottom - 40)
            low, high = (min(known + [0.0]), max(known + [1e-9])) if known else (0.0, 1.0)
            step = (plot[2] - plot[0]) / max(1, len(categories) - 1)
            for i, category in enumerate(categories):
                draw.text((plot[0] + i * step - 26, plot[3] + 10), str(category), font=_font(13), fill=INK)
            for value, y in ((high, plot[1]), (low, plot[3])):
                draw.line((plot[0], y, plot[2], y), fill=GRID)
                draw.text((left + 8, y - 8), f"{value:g}", font=_font(13), fill=INK)
            points = [(plot[0] + i * step, plot[3] - (v - low) / ((high - low) or 1) * (plot[3] - plot[1]))
                      for i, v in enumerate(values) if v is not None]
            if len(points) > 1:
                draw.line(points, fill=LINE, width=3)
            for x, y in points:
                draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=LINE)
    return image


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from pptx import Presentation

    from emd.readout.run import prepare, write
    from emd.settings import parse_database_url
    from emd.snapshot import publish_build
    from emd.warehouse import Warehouse
    from tests.fixtures.marts import PUBLISHED_AT, build_duckdb_warehouse

    with tempfile.TemporaryDirectory(prefix="readout_example_") as tmp:
        live = Path(tmp) / "warehouse.duckdb"
        build_duckdb_warehouse(live)
        url = f"duckdb:///{live}"
        publish_build(Warehouse(parse_database_url(url)), now=PUBLISHED_AT)
        os.environ["DATABASE_URL"] = url
        config = Path(tmp) / "config.yaml"
        config.write_text("org: acme\ngithub: {repos: [acme/api]}\ndashboard: {url: https://dash.example.test/emd}\n",
                          encoding="utf-8")
        os.environ["EMD_CONFIG"] = str(config)
        deck = write(prepare("2026-03", use_model=False), "pptx", Path(tmp) / "readout.pptx").location
        prs = Presentation(deck)
        by_title = {s.shapes.title.text: s for s in prs.slides if s.shapes.title is not None}
        images = [draw_slide(by_title[title], prs.slide_width, prs.slide_height) for title in SLIDES]
    sheet = Image.new("RGB", (WIDTH, sum(i.height for i in images) + 16 * (len(images) - 1)), (120, 124, 130))
    y = 0
    for image in images:
        sheet.paste(image, (0, y))
        y += image.height + 16
    out = ROOT / "docs" / "readout-example.png"
    sheet.save(out, optimize=True)
    print(f"wrote {out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
