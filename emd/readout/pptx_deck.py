"""The readout as a PowerPoint deck (python-pptx), offline: a title slide, the summary with risks and
recommendations, one slide per area (a table of this period against the previous, with DORA bands),
working agreements, SLO budgets where configured, and the trends as native (editable) line charts.
Every slide's speaker notes name the period and the dashboard link of each number on it."""

from __future__ import annotations

from pathlib import Path

from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.enum.chart import XL_CHART_TYPE
from pptx.util import Inches, Pt

from emd.metrics.catalogue import CATALOGUE
from emd.readout.content import Readout
from emd.text import plain_text

TITLE, TITLE_ONLY = 0, 5
WIDTH, HEIGHT = Inches(13.333), Inches(7.5)
CHARTS_PER_SLIDE = 4


def _period_note(readout: Readout) -> str:
    start, end = readout.covered
    note = f"Period {readout.period.id} ({readout.scope}), ingested days {start}..{end}"
    if readout.partial:
        note += f" (part of {readout.period.start}..{readout.period.end})"
    if readout.previous_covered is not None:
        note += f", compared with {readout.previous.id} ({readout.previous_covered[0]}..{readout.previous_covered[1]})"
    else:
        note += f"; {readout.previous.id} was not ingested, so nothing is compared"
    return note + "."


def _notes(slide, lines: list[str]) -> None:
    slide.notes_slide.notes_text_frame.text = "\n".join(plain_text(line) for line in lines)


def _title_only(prs, title: str):
    slide = prs.slides.add_slide(prs.slide_layouts[TITLE_ONLY])
    slide.shapes.title.text = plain_text(title)
    return slide


def _table(slide, header: list[str], body: list[list[str]], top: int, height: int) -> None:
    shape = slide.shapes.add_table(len(body) + 1, len(header), Inches(0.5), top, Inches(12.3), height)
    table = shape.table
    for col, text in enumerate(header):
        table.cell(0, col).text = text
    for row, values in enumerate(body, start=1):
        for col, text in enumerate(values):
            cell = table.cell(row, col)
            cell.text = plain_text(text)
            cell.text_frame.paragraphs[0].runs[0].font.size = Pt(14)


def _bullets(slide, heading: str, items: list[str], left: int, top: int, width: int, height: int) -> None:
    frame = slide.shapes.add_textbox(left, top, width, height).text_frame
    frame.word_wrap = True
    frame.text = heading
    frame.paragraphs[0].runs[0].font.bold = True
    for item in items:
        paragraph = frame.add_paragraph()
        paragraph.text = "\u2022 " + plain_text(item)
        paragraph.runs[0].font.size = Pt(14)


def write_pptx(readout: Readout, out: Path) -> Path:
    """Write the deck to `out` (its folder created) and return the path."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = WIDTH, HEIGHT
    period_note = _period_note(readout)

    slide = prs.slides.add_slide(prs.slide_layouts[TITLE])
    slide.shapes.title.text = plain_text(readout.title)
    start, end = readout.covered
    subtitle = f"{readout.period.id} compared with {readout.previous.id} \u00b7 data {start} to {end}"
    slide.placeholders[1].text = plain_text(subtitle + (" (partial period)" if readout.partial else ""))
    _notes(slide, [period_note, f"Dashboard: {readout.dashboard_url}"])

    slide = _title_only(prs, "Executive summary")
    frame = slide.shapes.add_textbox(Inches(0.5), Inches(1.4), Inches(12.3), Inches(2.4)).text_frame
    frame.word_wrap = True
    frame.text = plain_text(readout.summary)
    frame.paragraphs[0].runs[0].font.size = Pt(16)
    _bullets(slide, "Top risks", list(readout.risks) or ["No measure worsened and no DORA key is in the low band."],
             Inches(0.5), Inches(4.0), Inches(6.0), Inches(3.2))
    _bullets(slide, "Recommendations", list(readout.recommendations) or ["Keep the current practices."],
             Inches(6.8), Inches(4.0), Inches(6.0), Inches(3.2))
    source = ("written by the model from the readout's numbers (grounding-checked)" if readout.summary_source == "model"
              else f"rule-based ({readout.summary_note})")
    _notes(slide, [period_note, f"Summary {source}.", f"Dashboard: {readout.dashboard_url}"])

    for area in readout.areas:
        slide = _title_only(prs, area.title)
        dora = any(m.band for m in area.measures)
        header = ["Measure", readout.period.id, readout.previous.id, "Change", "Sample"] + (["Band"] if dora else [])
        body = [[m.label, m.text, m.previous_text, m.change_text or "\u2014", str(m.sample_size)]
                + ([f"{m.band or '—'} (was {m.previous_band or '—'})"] if dora else []) for m in area.measures]
        _table(slide, header, body, Inches(1.5), Inches(0.5) * (len(body) + 1))
        _notes(slide, [period_note] + [f"{m.label}: {m.text} (previous {m.previous_text}, n={m.sample_size}) \u2014 {m.link}"
                                       for m in area.measures])

    slide = _title_only(prs, "Working agreements")
    if readout.agreements:
        body = [[a.team, a.label, f"{a.held} of {a.applied}",
                 "\u2014" if a.rate is None else f"{a.rate * 100:.0f}%",
                 "\u2014" if a.previous_rate is None else f"{a.previous_rate * 100:.0f}%"] for a in readout.agreements]
        _table(slide, ["Team", "Agreement", "Held", readout.period.id, readout.previous.id], body,
               Inches(1.5), Inches(0.45) * (len(body) + 1))
    else:
        _bullets(slide, "No working agreements are configured for this scope.", [], Inches(0.5), Inches(1.5),
                 Inches(12), Inches(1))
    _notes(slide, [period_note, f"Adherence: {readout.dashboard_url.rstrip('/')}/agreements"])

    if readout.slos:
        slide = _title_only(prs, "SLO error budgets")
        body = [[str(s.get("name")), str(s.get("team")), f"{s.get('target')}",
                 "\u2014" if s.get("error_budget_remaining_pct") is None else f"{s['error_budget_remaining_pct']:.1f}%",
                 str(s.get("status"))] for s in readout.slos]
        _table(slide, ["SLO", "Team", "Target", "Budget left", "Status"], body, Inches(1.5),
               Inches(0.45) * (len(body) + 1))
        _notes(slide, [period_note, f"SLOs: {readout.dashboard_url.rstrip('/')}/slos"])

    keys = list(readout.trends)
    pages = [keys[i:i + CHARTS_PER_SLIDE] for i in range(0, len(keys), CHARTS_PER_SLIDE)]
    for n, page in enumerate(pages, start=1):
        slide = _title_only(prs, f"Trends over {len(readout.trends[page[0]])} {readout.period.kind}s ({n}/{len(pages)})")
        notes = [period_note]
        for i, key in enumerate(page):
            spec = CATALOGUE[key]
            points = readout.trends[key]
            data = CategoryChartData()
            data.categories = [p.period for p in points]
            scale = 100 if spec.unit == "rate" else 1
            data.add_series(spec.label, [None if p.value is None else round(p.value * scale, 2) for p in points])
            left = Inches(0.4) + Inches(6.4) * (i % 2)
            top = Inches(1.3) + Inches(3.0) * (i // 2)
            chart = slide.shapes.add_chart(XL_CHART_TYPE.LINE_MARKERS, left, top, Inches(6.2), Inches(2.9),
                                           data).chart
            chart.has_title = True
            unit = "%" if spec.unit in ("rate", "%") else spec.unit
            chart.chart_title.text_frame.text = f"{spec.label} ({unit})"
            chart.has_legend = False
            shown = ", ".join(f"{p.period}: {'no data' if p.value is None else round(p.value * scale, 2)}"
                              for p in points)
            notes.append(f"{spec.label} ({unit}) \u2014 {shown}")
        _notes(slide, notes + [f"Dashboard: {readout.dashboard_url}"])

    out.parent.mkdir(parents=True, exist_ok=True)
    prs.save(str(out))
    return out
