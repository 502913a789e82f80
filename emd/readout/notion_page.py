"""The readout as a Notion page (the official notion-client, its default Notion-Version) under
NOTION_PARENT_PAGE_ID: headings, a callout per DORA band, a table per area, agreements, SLOs and the
trends as a table and as one chart image per key measure. Re-running a period finds its page among the
parent's child pages by title and replaces its blocks; while it is written the page's title ends in
"(incomplete)", so a run that fails half-way leaves a page that says so, and the next run completes that
same page.

The charts are PNGs (emd/readout/charts.py) sent through Notion's File Upload API (create a single-part
upload, send the bytes as multipart/form-data, attach the upload's id in an `image` block): Notion hosts
them privately in the workspace, so no chart is ever put at a public URL. They are uploaded before the
page is touched, so a refused upload leaves the previous page as it was. The replaced image blocks go to
the trash with the rest; their superseded uploads are Notion's to expire."""

from __future__ import annotations

from typing import Any

from emd import settings
from emd.metrics.catalogue import CATALOGUE, format_value
from emd.readout.charts import chart_title, trend_png
from emd.readout.content import Readout, ReadoutError
from emd.text import plain_text

DEFAULT_API_URL = "https://api.notion.com"
INCOMPLETE = " (incomplete)"
BATCH = 100  # Notion's limit of blocks per append
BAND_ICONS = {"elite": "\U0001f7e2", "high": "\U0001f7e2", "medium": "\U0001f7e1", "low": "\U0001f534"}


def _text(content: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": plain_text(content)[:2000]}}]


def _block(kind: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"object": "block", "type": kind, kind: {"rich_text": _text(content), **extra}}


def _table(header: list[str], body: list[list[str]]) -> dict[str, Any]:
    rows = [{"type": "table_row", "table_row": {"cells": [_text(c) for c in row]}} for row in [header, *body]]
    return {"object": "block", "type": "table",
            "table": {"table_width": len(header), "has_column_header": True, "has_row_header": True, "children": rows}}


def _image(upload_id: str, caption: str) -> dict[str, Any]:
    return {"object": "block", "type": "image",
            "image": {"type": "file_upload", "file_upload": {"id": upload_id}, "caption": _text(caption)}}


def page_blocks(readout: Readout, charts: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The page's blocks; `charts` maps a trend's measure key to the id of its uploaded chart image."""
    start, end = readout.covered
    out = [_block("paragraph", f"{readout.period.id} compared with {readout.previous.id}; ingested days {start} to "
                               f"{end}{' (part of the period)' if readout.partial else ''}. Dashboard: "
                               f"{readout.dashboard_url}"),
           _block("heading_2", "Executive summary"),
           _block("callout", readout.summary, icon={"type": "emoji", "emoji": "\U0001f4cb"})]
    out += [_block("heading_3", "Top risks")] + [_block("bulleted_list_item", r) for r in readout.risks]
    out += [_block("heading_3", "Recommendations")] + [_block("bulleted_list_item", r) for r in readout.recommendations]
    for area in readout.areas:
        out.append(_block("heading_2", area.title))
        for m in area.measures:
            if m.band:
                out.append(_block("callout", f"{m.label}: {m.text} \u2014 DORA {m.band} (was {m.previous_band or '—'})",
                                  icon={"type": "emoji", "emoji": BAND_ICONS.get(m.band, "\u26aa")}))
        out.append(_table(["Measure", readout.period.id, readout.previous.id, "Change", "Sample"],
                          [[m.label, m.text, m.previous_text, m.change_text or "\u2014", str(m.sample_size)]
                           for m in area.measures]))
    out.append(_block("heading_2", "Working agreements"))
    if readout.agreements:
        out.append(_table(["Team", "Agreement", "Held", readout.period.id, readout.previous.id],
                          [[a.team, a.label, f"{a.held} of {a.applied}",
                            "\u2014" if a.rate is None else f"{a.rate * 100:.0f}%",
                            "\u2014" if a.previous_rate is None else f"{a.previous_rate * 100:.0f}%"]
                           for a in readout.agreements]))
    else:
        out.append(_block("paragraph", "No working agreements are configured for this scope."))
    if readout.slos:
        out.append(_block("heading_2", "SLO error budgets"))
        out.append(_table(["SLO", "Team", "Target", "Budget left", "Status"],
                          [[str(s.get("name")), str(s.get("team")), str(s.get("target")),
                            str(s.get("error_budget_remaining_pct")), str(s.get("status"))] for s in readout.slos]))
    out.append(_block("heading_2", f"Trends over {len(next(iter(readout.trends.values())))} {readout.period.kind}s"))
    periods = [p.period for p in next(iter(readout.trends.values()))]
    out.append(_table(["Measure", *periods],
                      [[CATALOGUE[k].label, *(format_value(CATALOGUE[k], p.value) for p in points)]
                       for k, points in readout.trends.items()]))
    for key, upload_id in (charts or {}).items():
        out.append(_image(upload_id, f"{chart_title(key)}, {periods[0]} to {periods[-1]}"))
    return out


def chart_filename(readout: Readout, key: str) -> str:
    return f"readout-{readout.period.id}-{readout.team or readout.org or 'org'}-{key}.png"


def upload_charts(client: Any, readout: Readout) -> dict[str, str]:
    """Each trend's chart sent through Notion's File Upload API; the uploads' ids by measure key."""
    from notion_client import APIResponseError

    ids: dict[str, str] = {}
    for key, points in readout.trends.items():
        filename = chart_filename(readout, key)
        try:
            upload = client.file_uploads.create(mode="single_part", filename=filename, content_type="image/png")
            sent = client.file_uploads.send(file_upload_id=upload["id"],
                                            file=(filename, trend_png(key, points), "image/png"))
        except APIResponseError as exc:
            if exc.status == 401:
                raise
            raise ReadoutError(f"Notion refused the upload of the chart {filename} ({exc.status} {exc.code}: "
                               f"{plain_text(str(exc))[:300]}): give the integration the insert content "
                               "capability (its settings \u2192 Capabilities), which uploading files needs") from None
        if sent.get("status") != "uploaded":
            raise ReadoutError(f"Notion left the chart upload {filename} with status "
                               f"{plain_text(sent.get('status'))}, not uploaded; re-run the readout")
        ids[key] = upload["id"]
    return ids


def _explain(exc: Exception, parent: str) -> ReadoutError:
    from notion_client import APIResponseError
    from notion_client.errors import NotionClientErrorBase

    if isinstance(exc, APIResponseError):
        if exc.status == 401:
            return ReadoutError("Notion rejected NOTION_TOKEN (401 unauthorized): set a valid integration token")
        if exc.status in (403, 404):
            return ReadoutError(f"NOTION_PARENT_PAGE_ID {parent} cannot be written by the integration ({exc.status} "
                                f"{exc.code}): share that page with the integration (page menu \u2192 Connections) "
                                "and give it insert and update content capabilities")
        return ReadoutError(f"Notion answered {exc.status} {exc.code}: {exc}")
    if isinstance(exc, NotionClientErrorBase):
        return ReadoutError(f"Notion at NOTION_API_URL answered an error: {exc}")
    return ReadoutError(f"Notion at NOTION_API_URL could not be reached: {type(exc).__name__}")


def write_notion(readout: Readout) -> str:
    """Create or update the period's page; returns its URL."""
    import httpx
    from notion_client import Client
    from notion_client.errors import NotionClientErrorBase
    from notion_client.helpers import iterate_paginated_api

    token, parent = settings.env("NOTION_TOKEN"), settings.env("NOTION_PARENT_PAGE_ID")
    missing = [name for name, value in (("NOTION_TOKEN", token), ("NOTION_PARENT_PAGE_ID", parent)) if not value]
    if missing:
        raise ReadoutError(f"--to notion needs {' and '.join(missing)} (an integration token and the page to write under)")
    assert parent is not None
    client = Client(auth=token, base_url=(settings.env("NOTION_API_URL") or DEFAULT_API_URL).rstrip("/"))
    title = plain_text(readout.title)
    incomplete = {"title": {"title": _text(title + INCOMPLETE)}}
    try:
        existing = [b for b in iterate_paginated_api(client.blocks.children.list, block_id=parent)
                    if b["type"] == "child_page" and b["child_page"]["title"] in (title, title + INCOMPLETE)]
        charts = upload_charts(client, readout)  # before the page is touched
        if existing:
            page_id = existing[0]["id"]
            client.pages.update(page_id=page_id, properties=incomplete)
            for old in list(iterate_paginated_api(client.blocks.children.list, block_id=page_id)):
                client.blocks.delete(block_id=old["id"])
        else:
            created: dict[str, Any] = client.pages.create(parent={"page_id": parent}, properties=incomplete)  # type: ignore[assignment]  # the sync client
            page_id = created["id"]
        blocks = page_blocks(readout, charts)
        for i in range(0, len(blocks), BATCH):
            client.blocks.children.append(block_id=page_id, children=blocks[i:i + BATCH])
        page: dict[str, Any] = client.pages.update(page_id=page_id, properties={"title": {"title": _text(title)}})  # type: ignore[assignment]
    except (NotionClientErrorBase, httpx.HTTPError) as exc:
        raise _explain(exc, parent) from None
    return str(page.get("url") or page_id)
