"""One readout from the period to its destination: open the published build, build the content, write
the summary, render to `pptx` (a file), `slides` (Google Slides) or `notion` (a Notion page)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emd.config import load_config
from emd.metrics.source import EmptyWarehouse, open_source
from emd.readout.content import Readout, ReadoutError, build_readout, parse_period
from emd.readout.summary import write_summary
from emd.settings import DatabaseTarget

TARGETS = ("pptx", "slides", "notion")


@dataclass(frozen=True)
class Written:
    target: str
    location: str  # the file path, or the deck's / page's URL
    readout: Readout


def default_out(readout: Readout) -> Path:
    scope = readout.team or readout.org or "org"
    return Path("readouts") / f"readout-{readout.period.id}-{scope}.pptx"


def prepare(period: str, *, team: str | None = None, org: str | None = None, use_model: bool = True,
            target: DatabaseTarget | None = None) -> Readout:
    """The readout's content and summary from the published build (DATABASE_URL unless `target`)."""
    parsed = parse_period(period)
    source = open_source(target)
    if isinstance(source, EmptyWarehouse):
        raise ReadoutError(f"no published build to read: {source.reason}")
    readout = build_readout(source, parsed, team=team, org=org, dashboard_url=load_config().dashboard_url)
    summary = write_summary(readout, use_model=use_model)
    readout.summary, readout.summary_source, readout.summary_note = summary.text, summary.source, summary.note
    return readout


def write(readout: Readout, to: str, out: Path | None = None) -> Written:
    if to == "pptx":
        from emd.readout.pptx_deck import write_pptx

        return Written(to, str(write_pptx(readout, out or default_out(readout))), readout)
    if to == "notion":
        from emd.readout.notion_page import write_notion

        return Written(to, write_notion(readout), readout)
    if to == "slides":
        from emd.readout.slides_deck import write_slides

        return Written(to, write_slides(readout), readout)
    raise ReadoutError(f"--to {to}: unknown target; use --to pptx, slides or notion")
