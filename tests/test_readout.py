"""Executive readouts (issue 20) over the hand-made marts of tests/fixtures/marts.py, through `emd readout`.

The ingested calendar runs 2026-02-01 .. 2026-03-15, so the month 2026-03 covers 2026-03-01 .. 2026-03-15
(15 days) and is compared with 2026-02 (28 days). Expected values, by hand from METRICS.md and the rows:

2026-03, org: deployments d1 d2 d3 dbot d4 d5 d6 d7 = 8 -> frequency 8 / 15 = 0.533/day; failed d2 d4 d6
-> change failure rate 3 / 8 = 37.5% (DORA low: above 20%); recovery of d2 (6 h) and d4 (24 h) -> p50 15 h;
lead time of the deployed PRs (bots count) 2, 12, 25, 40, 50, 110 -> p50 (25 + 40) / 2 = 32.5 h;
human merged PRs' cycle times 10, 20, 30, 40, 100 -> p50 30 h, p90 40 + 0.6 * 60 = 76 h;
sprints completed in March with complete history: API Sprint 1 (03-01), API Sprint 2, WEB Sprint 7 ->
planned vs done (15 + 24 + 8) / (20 + 30 + 10) = 47 / 60 = 78.3%.
2026-02, org: p1 p2 p3 -> 3 / 28 = 0.11/day; p1 failed -> 33.3%; lead times 8, 16, 60 -> p50 16 h.
2026-03, team web: d5 d6 -> 2 / 15 = 0.13/day; d6 failed -> 50.0%.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from pptx import Presentation

from emd.readout.content import ReadoutError, parse_period, trailing_periods
from emd.settings import parse_database_url
from emd.snapshot import publish_build
from emd.warehouse import Warehouse
from mock_apis.llm import UNGROUNDED_NUMBER
from mock_apis.server import MockApi
from orchestration.cli import main
from tests.fixtures.marts import PUBLISHED_AT, build_duckdb_warehouse

DASHBOARD = "https://dash.example.test/emd"


@pytest.fixture
def readout_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    live = tmp_path / "warehouse.duckdb"
    build_duckdb_warehouse(live)
    url = f"duckdb:///{live}"
    publish_build(Warehouse(parse_database_url(url)), now=PUBLISHED_AT)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"org": "acme", "github": {"repos": ["acme/api"]},
                                      "dashboard": {"url": DASHBOARD}}), encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("EMD_CONFIG", str(config))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _slide(prs, title: str):
    found = [s for s in prs.slides if s.shapes.title is not None and s.shapes.title.text == title]
    assert found, [s.shapes.title.text for s in prs.slides if s.shapes.title is not None]
    return found[0]


def _table(slide) -> list[list[str]]:
    table = next(shape.table for shape in slide.shapes if shape.has_table)
    return [[cell.text for cell in row.cells] for row in table.rows]


def _row(table: list[list[str]], label: str) -> list[str]:
    return next(r for r in table if r[0] == label)


def test_periods_are_months_or_quarters() -> None:
    q1 = parse_period("2026-Q1")
    assert (q1.start, q1.end, q1.previous().id) == (date(2026, 1, 1), date(2026, 3, 31), "2025-Q4")
    assert parse_period("2026-01").previous().id == "2025-12"
    assert [p.id for p in trailing_periods(parse_period("2026-02"))] == [
        "2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]
    with pytest.raises(ReadoutError, match="--period '2026-13'"):
        parse_period("2026-13")


def test_org_month_deck_carries_the_hand_computed_values(readout_env: Path, capsys) -> None:
    out = readout_env / "deck.pptx"
    assert main(["readout", "--period", "2026-03", "--to", "pptx", "--out", str(out)]) == 0
    assert "rule-based: OPENAI_API_KEY is not set" in capsys.readouterr().out
    prs = Presentation(str(out))
    assert prs.slides[0].shapes.title.text == "Engineering readout 2026-03 — the organisation"

    delivery = _slide(prs, "Delivery (DORA)")
    table = _table(delivery)
    assert table[0][:3] == ["Measure", "2026-03", "2026-02"]
    assert _row(table, "Deployment frequency")[1:3] == ["0.53/day", "0.11/day"]
    assert _row(table, "Change failure rate")[1:3] == ["37.5%", "33.3%"]
    assert _row(table, "Change failure rate")[-1] == "low (was low)"
    assert _row(table, "Lead time p50")[1:3] == ["32.5 h", "16.0 h"]
    assert _row(table, "Failed deployment recovery time p50")[1] == "15.0 h"
    notes = delivery.notes_slide.notes_text_frame.text
    assert "Period 2026-03 (the organisation), ingested days 2026-03-01..2026-03-15" in notes
    assert f"{DASHBOARD}/delivery?start=2026-03-01&end=2026-03-15" in notes

    flow = _table(_slide(prs, "Flow"))
    assert _row(flow, "PR cycle time p50")[1] == "30.0 h" and _row(flow, "PR cycle time p90")[1] == "76.0 h"
    assert _row(_table(_slide(prs, "Planning")), "Planned vs done")[1:3] == ["78.3%", "—"]

    trends = _slide(prs, "Trends over 6 months (1/2)")
    chart = next(s.chart for s in trends.shapes if s.has_chart)  # a native, editable chart
    assert list(chart.plots[0].categories) == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert list(chart.series[0].values) == [None, None, None, None, 0.11, 0.53]

    summary = _slide(prs, "Executive summary")
    assert "Summary rule-based (OPENAI_API_KEY is not set)." in summary.notes_slide.notes_text_frame.text
    text = " ".join(s.text_frame.text for s in summary.shapes if s.has_text_frame)
    assert "Change failure rate worsened from 33.3% to 37.5%" in text  # a top risk


def test_team_deck_links_the_team(readout_env: Path) -> None:
    out = readout_env / "web.pptx"
    assert main(["readout", "--period", "2026-03", "--team", "web", "--out", str(out)]) == 0
    delivery = _slide(Presentation(str(out)), "Delivery (DORA)")
    assert _row(_table(delivery), "Deployment frequency")[1] == "0.13/day"
    assert _row(_table(delivery), "Change failure rate")[1] == "50.0%"
    assert f"{DASHBOARD}/delivery?team=web&start=2026-03-01&end=2026-03-15" in delivery.notes_slide.notes_text_frame.text


def test_bad_input_names_what_to_fix(readout_env: Path, capsys) -> None:
    assert main(["readout", "--period", "2025-06", "--out", str(readout_env / "x.pptx")]) == 1
    err = capsys.readouterr().err
    assert "--period 2025-06: no day of 2025-06-01..2025-06-30 was ingested" in err
    assert "2026-02-01..2026-03-15" in err and "emd pipeline --start 2025-06-01 --end 2025-06-30" in err
    assert main(["readout", "--period", "2026-03", "--team", "nope", "--out", str(readout_env / "x.pptx")]) == 2
    assert "--team unknown team 'nope'" in capsys.readouterr().err
    assert not (readout_env / "x.pptx").exists()


def test_summary_from_the_model_is_grounded_or_replaced(readout_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                        mock_api: MockApi) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", mock_api.env()["OPENAI_API_KEY"])
    monkeypatch.setenv("OPENAI_BASE_URL", mock_api.env()["OPENAI_BASE_URL"])
    from emd.readout.run import prepare

    readout = prepare("2026-03")
    assert readout.summary_source == "model"
    assert "0.533" in readout.summary  # the mock quotes the input's numbers
    prompt = mock_api.state.extra["llm_requests"][-1]["messages"][1]["content"]
    assert '"value": 0.375' in prompt

    mock_api.state.switches["llm_ungrounded"] = True
    readout = prepare("2026-03")
    assert readout.summary_source == "fallback"
    assert UNGROUNDED_NUMBER in readout.summary_note and UNGROUNDED_NUMBER not in readout.summary


def test_monthly_asset_writes_the_configured_readouts(readout_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import materialize

    from orchestration.defs.readouts.definitions import exec_readout, exec_readout_monthly
    from orchestration.resources import ProjectConfigResource

    config = readout_env / "config.yaml"
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["github"]["repos"] = ["acme/api", "acme/web", "acme/ghost"]
    raw["teams"] = {"web": {"repos": ["acme/web"]}, "ghost": {"repos": ["acme/ghost"]}}  # ghost: never ingested
    raw["readouts"] = {"targets": ["pptx"], "teams": ["web", "ghost"], "out_dir": str(readout_env / "decks")}
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.chdir(readout_env)
    result = materialize([exec_readout], partition_key="2026-03-01", raise_on_error=False,
                         resources={"project_config": ProjectConfigResource()})
    # The team the build does not know fails alone, named; the org's and web's decks are written.
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "1 readout(s) of 2026-03 failed" in str(failure) and "team ghost: team: unknown team 'ghost'" in str(failure)
    decks = sorted(p.name for p in (readout_env / "decks").iterdir())
    assert decks == ["readout-2026-03-org.pptx", "readout-2026-03-web.pptx"]
    web = _slide(Presentation(str(readout_env / "decks" / decks[1])), "Delivery (DORA)")
    assert _row(_table(web), "Deployment frequency")[1] == "0.13/day"
    assert (exec_readout_monthly.name, exec_readout_monthly.cron_schedule) == ("exec_readout_monthly", "0 6 1 * *")


def _notion_pages(api: MockApi) -> list[dict]:
    import httpx

    return httpx.get(api.url + "/_mock/notion/pages").json()["pages"]


def _texts(block: dict) -> list[str]:
    body = block["body"] or {}
    out = ["".join(t["text"]["content"] for t in body.get("rich_text", []))] if "rich_text" in body else []
    if block["type"] == "table_row":
        out = [" | ".join("".join(t["text"]["content"] for t in cell) for cell in body["cells"])]
    return out + [text for child in block["children"] for text in _texts(child)]


TREND_CAPTIONS = ["Deployment frequency (/day)", "Lead time p50 (h)", "Change failure rate (%)",
                  "Failed deployment recovery time p50 (h)", "PR cycle time p50 (h)",
                  "Time to first review p50 (h)", "Planned vs done (%)", "Carryover (%)"]


def _assert_one_chart_per_trend(api: MockApi, page: dict) -> None:
    """One image block per key measure, each a Notion-hosted file that is a PNG chart of a sensible size."""
    import io

    import httpx
    from PIL import Image

    images = [b for b in page["children"] if b["type"] == "image"]
    captions = ["".join(t["text"]["content"] for t in b["body"]["caption"]) for b in images]
    assert captions == [f"{c}, 2025-10 to 2026-03" for c in TREND_CAPTIONS]  # one per measure, no duplicates
    uploads = api.state.extra["notion_file_uploads"]
    for block in images:
        assert block["body"]["type"] == "file"  # attached from a file upload, read back as a hosted file
        upload_id = block["body"]["file"]["url"].rsplit("/", 1)[1]
        assert uploads[upload_id]["status"] == "uploaded" and uploads[upload_id]["content_type"] == "image/png"
        data = httpx.get(block["body"]["file"]["url"]).content
        assert data == uploads[upload_id]["data"]
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG" and 400 <= image.width <= 2000 and 200 <= image.height <= 1200


def test_notion_page_is_written_then_updated_never_duplicated(readout_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                              mock_api: MockApi, capsys) -> None:
    for name in ("NOTION_API_URL", "NOTION_TOKEN", "NOTION_PARENT_PAGE_ID"):
        monkeypatch.setenv(name, mock_api.env()[name])
    assert main(["readout", "--period", "2026-03", "--to", "notion"]) == 0
    shown = capsys.readouterr()
    assert "written to https://www.notion.so/" in shown.out
    assert mock_api.env()["NOTION_TOKEN"] not in shown.out + shown.err
    assert main(["readout", "--period", "2026-03", "--to", "notion"]) == 0
    pages = _notion_pages(mock_api)
    assert [p["title"] for p in pages] == ["Engineering readout 2026-03 — the organisation"]  # one page, updated
    texts = _texts(pages[0])
    assert "Deployment frequency | 0.53/day | 0.11/day | +0.43/day | 8" in texts
    assert "Change failure rate: 37.5% — DORA low (was low)" in texts  # the band's callout
    assert "PR cycle time p50 | 30.0 h | 14.0 h | +16.0 h | 5" in texts
    assert texts.count("Delivery (DORA)") == 1  # the second run replaced the blocks
    _assert_one_chart_per_trend(mock_api, pages[0])

    # Bad input: an expired token, a parent the integration cannot write; the page never claims to be complete.
    monkeypatch.setenv("NOTION_TOKEN", "ntn_expired")
    assert main(["readout", "--period", "2026-02", "--to", "notion"]) == 1
    assert "Notion rejected NOTION_TOKEN (401 unauthorized)" in capsys.readouterr().err
    monkeypatch.setenv("NOTION_TOKEN", mock_api.env()["NOTION_TOKEN"])
    mock_api.state.switches["notion_read_only"] = 1  # a read-only integration: its first write, a chart upload
    assert main(["readout", "--period", "2026-02", "--to", "notion"]) == 1
    assert "give the integration the insert content capability" in capsys.readouterr().err
    assert len(_notion_pages(mock_api)) == 1  # refused before any page was made
    mock_api.state.switches["notion_append_forbidden"] = 1  # the page is created, its blocks are refused
    assert main(["readout", "--period", "2026-02", "--to", "notion"]) == 1
    assert [p["title"] for p in _notion_pages(mock_api)][1:] == ["Engineering readout 2026-02 — the organisation (incomplete)"]
    assert main(["readout", "--period", "2026-02", "--to", "notion"]) == 0  # the next run completes that page
    assert [p["title"] for p in _notion_pages(mock_api)][1:] == ["Engineering readout 2026-02 — the organisation"]
    monkeypatch.setenv("NOTION_PARENT_PAGE_ID", "00000000-0000-4000-8000-00000000dead")
    assert main(["readout", "--period", "2026-02", "--to", "notion"]) == 1
    assert "share that page with the integration" in capsys.readouterr().err


def test_notion_file_uploads_follow_notions_contract(mock_api: MockApi) -> None:
    """The mock's File Upload endpoints, through the official client: create, send once, attach only when uploaded."""
    import httpx
    from notion_client import APIResponseError, Client

    client = Client(auth=mock_api.env()["NOTION_TOKEN"], base_url=mock_api.env()["NOTION_API_URL"])
    page = mock_api.env()["NOTION_PARENT_PAGE_ID"]
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # the signature, then bytes that include CR and LF

    def error(call, *args, **kwargs) -> tuple[int, str]:
        with pytest.raises(APIResponseError) as caught:
            call(*args, **kwargs)
        return caught.value.status, str(caught.value.code.value)

    pending = client.file_uploads.create(mode="single_part", filename="chart.png", content_type="image/png")
    assert (pending["object"], pending["status"], pending["filename"]) == ("file_upload", "pending", "chart.png")
    image = {"type": "image", "image": {"type": "file_upload", "file_upload": {"id": pending["id"]}}}
    assert error(client.blocks.children.append, block_id=page, children=[image]) == (400, "validation_error")

    assert error(client.file_uploads.send, file_upload_id=pending["id"],
                 file=("chart.png", b"GIF89a not a png", "image/png")) == (400, "validation_error")
    sent = client.file_uploads.send(file_upload_id=pending["id"], file=("chart.png", png, "image/png"))
    assert (sent["status"], sent["content_length"]) == ("uploaded", len(png))
    assert mock_api.state.extra["notion_file_uploads"][pending["id"]]["data"] == png  # kept byte for byte
    assert error(client.file_uploads.send, file_upload_id=pending["id"],
                 file=("chart.png", png, "image/png")) == (400, "validation_error")  # already sent
    assert error(client.file_uploads.send, file_upload_id="00000000-0000-4000-8000-0000000000ff",
                 file=("chart.png", png, "image/png")) == (404, "object_not_found")
    assert client.file_uploads.retrieve(file_upload_id=pending["id"])["status"] == "uploaded"

    attached = client.blocks.children.append(block_id=page, children=[image])["results"][0]
    assert attached["image"]["type"] == "file"
    assert httpx.get(attached["image"]["file"]["url"]).content == png


def test_trend_chart_is_a_png_even_without_data() -> None:
    import io

    from PIL import Image

    from emd.readout.charts import trend_png
    from emd.readout.content import TrendPoint

    periods = ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    for values in ([None, None, None, None, 0.333, 0.375], [None] * 6):  # a gap in the line; no data at all
        data = trend_png("change_failure_rate", [TrendPoint(p, v) for p, v in zip(periods, values, strict=True)])
        with Image.open(io.BytesIO(data)) as image:
            assert (image.format, image.size) == ("PNG", (640, 300))
