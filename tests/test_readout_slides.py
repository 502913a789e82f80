"""`emd readout --to slides`: the real google-api-python-client and google-auth against the mock Google
Drive/Slides server (mock_apis/google.py, which checks each request against the discovery documents the
library ships) over HTTP; the deck is read back from the mock.

The fixed period is test_readout.py's: the hand-made marts of tests/fixtures/marts.py, ingested 2026-02-01 ..
2026-03-15, so 2026-03 covers 2026-03-01 .. 2026-03-15 (15 days) against 2026-02 (28 days). By hand from
METRICS.md and those rows:
- deployment frequency: 8 deployments (d1 d2 d3 dbot d4 d5 d6 d7) / 15 days = 0.533 -> "0.53/day";
  February 3 / 28 = 0.107 -> "0.11/day"; change 0.533 - 0.107 = 0.426 -> "+0.43/day", sample 8;
- change failure rate: d2 d4 d6 failed of 8 = 37.5% (DORA low: above 20%), February 1 of 3 = 33.3% (low);
- lead time p50: deployed PRs' 2, 12, 25, 40, 50, 110 h -> (25 + 40) / 2 = 32.5 h; February 8, 16, 60 -> 16.0 h;
- PR cycle time: human merged PRs' 10, 20, 30, 40, 100 h -> p50 30.0 h, p90 40 + 0.6 * (100 - 40) = 76.0 h;
- planned vs done: (15 + 24 + 8) / (20 + 30 + 10) = 47 / 60 = 78.3%; February had no completed sprint -> "—";
- team web: d5 d6 -> 2 / 15 = 0.133 -> "0.13/day"; d6 failed -> 1 / 2 = 50.0%.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mock_apis import google
from mock_apis.server import MockApi
from orchestration.cli import main
from tests.test_readout import readout_env  # noqa: F401 - the fixture: the fixed period's published build

ORG_TITLE = "Engineering readout 2026-03 — the organisation"


@pytest.fixture
def slides_env(readout_env: Path, mock_api: MockApi, monkeypatch: pytest.MonkeyPatch) -> MockApi:  # noqa: F811
    for name in ("GOOGLE_API_URL", "EMD_SLIDES_TEMPLATE_ID", "EMD_DRIVE_FOLDER_ID"):
        monkeypatch.setenv(name, mock_api.env()[name])
    key = google.write_key_file(readout_env / "service-account.json", mock_api.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    return mock_api


def _files(api: MockApi) -> list[dict[str, Any]]:
    return httpx.get(api.url + "/_mock/google/files").json()["files"]


def _decks(api: MockApi) -> list[dict[str, Any]]:
    """The presentations in the readouts folder, as the mock holds them."""
    return [f for f in _files(api) if google.FOLDER_ID in f["parents"]]


def _text(content: dict[str, Any]) -> str:
    return "".join(e.get("textRun", {}).get("content", "") for e in content["textElements"]).removesuffix("\n")


def _slides(deck: dict[str, Any]) -> list[dict[str, Any]]:
    """Each slide as {"texts": [shape texts], "table": [[cell texts]] or None}."""
    out = []
    for slide in deck["presentation"]["slides"]:
        texts = [_text(e["shape"]["text"]) for e in slide["pageElements"] if "shape" in e]
        tables = [[[_text(c["text"]) for c in row["tableCells"]] for row in e["table"]["tableRows"]]
                  for e in slide["pageElements"] if "table" in e]
        out.append({"texts": texts, "table": tables[0] if tables else None})
    return out


def _table(deck: dict[str, Any], title: str) -> list[list[str]]:
    found = [s["table"] for s in _slides(deck) if title in s["texts"]]
    assert len(found) == 1, [s["texts"] for s in _slides(deck)]
    return found[0]


def _row(table: list[list[str]], label: str) -> list[str]:
    return next(r for r in table if r[0] == label)


def _drive_listing(api: MockApi, key_file: Path) -> list[dict[str, Any]]:
    """files.list of the folder through the real Drive client, as a user of the API would ask it."""
    from google.oauth2 import service_account
    from googleapiclient.discovery import build

    credentials = service_account.Credentials.from_service_account_file(str(key_file), scopes=["https://www.googleapis.com/auth/drive"])
    drive = build("drive", "v3", credentials=credentials, static_discovery=True,
                  client_options={"api_endpoint": api.url + "/google/drive/v3/"})
    answer = drive.files().list(q=f"'{google.FOLDER_ID}' in parents and trashed = false",
                                fields="files(id,name,appProperties)").execute()
    return answer["files"]


def test_deck_carries_the_hand_computed_values_and_a_rerun_updates_it(slides_env: MockApi, readout_env: Path,  # noqa: F811
                                                                       monkeypatch: pytest.MonkeyPatch, capsys,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert main(["readout", "--period", "2026-03", "--to", "slides"]) == 0
    out = capsys.readouterr().out
    private_key = google.service_account_info(slides_env.url)["private_key"]
    for shown in (out, caplog.text):  # neither the access token nor the key, even at DEBUG
        assert "ya29." not in shown and "PRIVATE KEY" not in shown and private_key[40:80] not in shown
    assert slides_env.state.counts["google:token"] == 1
    [deck] = _decks(slides_env)
    assert f"written to https://docs.google.com/presentation/d/{deck['id']}/edit" in out
    assert deck["name"] == ORG_TITLE
    assert deck["appProperties"] == {"emd_readout": "org/2026-03", "emd_readout_state": "complete"}

    slides = _slides(deck)
    # The template's title slide and summary slide, their placeholders filled.
    assert slides[0]["texts"] == [ORG_TITLE, "2026-03 compared with 2026-02 · data 2026-03-01 to 2026-03-15 "
                                             "(part of the period)"]
    summary = "\n".join(slides[1]["texts"])
    assert "Change failure rate worsened from 33.3% to 37.5%" in summary  # a top risk
    assert "Dashboard: https://dash.example.test/emd" in summary and "{{" not in summary

    delivery = _table(deck, "Delivery (DORA)")  # native Slides tables, not images
    assert delivery[0] == ["Measure", "2026-03", "2026-02", "Change", "Sample", "Band"]
    assert _row(delivery, "Deployment frequency")[1:5] == ["0.53/day", "0.11/day", "+0.43/day", "8"]
    assert _row(delivery, "Change failure rate")[1:3] == ["37.5%", "33.3%"]
    assert _row(delivery, "Change failure rate")[-1] == "low (was low)"
    assert _row(delivery, "Lead time p50")[1:3] == ["32.5 h", "16.0 h"]
    flow = _table(deck, "Flow")
    assert _row(flow, "PR cycle time p50")[1] == "30.0 h" and _row(flow, "PR cycle time p90")[1] == "76.0 h"
    assert _row(_table(deck, "Planning"), "Planned vs done")[1:3] == ["78.3%", "—"]
    trends = _table(deck, "Trends over 6 months")
    assert trends[0] == ["Measure", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert _row(trends, "Deployment frequency")[1:] == ["—", "—", "—", "—", "0.11/day", "0.53/day"]

    # A second run, now with the model's summary, updates the same deck: one file in the folder, the same id,
    # each slide once, the template's placeholders filled anew with the new summary.
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.setenv(name, slides_env.env()[name])
    assert main(["readout", "--period", "2026-03", "--to", "slides"]) == 0
    [again] = _decks(slides_env)
    assert again["id"] == deck["id"]
    updated = _slides(again)
    assert "0.533" in "\n".join(updated[1]["texts"]) and "0.533" not in summary  # the mock model quotes the input
    assert updated[0] == slides[0] and updated[2:] == slides[2:]
    assert [f["id"] for f in _drive_listing(slides_env, readout_env / "service-account.json")] == [deck["id"]]

    # A team's readout is its own deck.
    assert main(["readout", "--period", "2026-03", "--team", "web", "--to", "slides"]) == 0
    decks = {d["appProperties"]["emd_readout"]: d for d in _decks(slides_env)}
    assert sorted(decks) == ["org/2026-03", "team/web/2026-03"]
    web = _table(decks["team/web/2026-03"], "Delivery (DORA)")
    assert _row(web, "Deployment frequency")[1] == "0.13/day" and _row(web, "Change failure rate")[1] == "50.0%"


def test_bad_input_names_what_to_fix_and_leaves_no_deck(slides_env: MockApi, monkeypatch: pytest.MonkeyPatch,
                                                        capsys) -> None:
    private_key = google.service_account_info(slides_env.url)["private_key"]

    def fails() -> str:
        assert main(["readout", "--period", "2026-03", "--to", "slides"]) == 1
        err = capsys.readouterr().err
        assert "PRIVATE KEY" not in err and private_key[40:80] not in err and "ya29." not in err
        assert _decks(slides_env) == []  # nothing half-written is left in the folder
        return err

    monkeypatch.setenv("EMD_SLIDES_TEMPLATE_ID", google.BARE_TEMPLATE_ID)
    err = fails()
    assert f"EMD_SLIDES_TEMPLATE_ID {google.BARE_TEMPLATE_ID} has no {{{{title}}}}, {{{{period}}}}, {{{{summary}}}}" in err
    monkeypatch.setenv("EMD_SLIDES_TEMPLATE_ID", "1NoSuchTemplate")
    assert "EMD_SLIDES_TEMPLATE_ID 1NoSuchTemplate was not found or is not shared" in fails()
    monkeypatch.setenv("EMD_SLIDES_TEMPLATE_ID", google.TEMPLATE_ID)

    monkeypatch.setenv("EMD_DRIVE_FOLDER_ID", google.READ_ONLY_FOLDER_ID)
    err = fails()
    assert f"EMD_DRIVE_FOLDER_ID {google.READ_ONLY_FOLDER_ID} cannot be written by the service account (403" in err
    assert f"share that folder with {google.SERVICE_ACCOUNT} as Editor" in err
    assert [f["id"] for f in _files(slides_env) if google.READ_ONLY_FOLDER_ID in f["parents"]] == []
    monkeypatch.setenv("EMD_DRIVE_FOLDER_ID", google.FOLDER_ID)

    # The copy is made, then filling it fails (the server errs on every try): the copy is deleted.
    slides_env.state.switches["google_batch_update_fails"] = 3  # the first call and the client's 2 retries
    assert "Google answered 500 to the deck's content" in fails()

    slides_env.state.switches["google_key_revoked"] = True
    err = fails()
    assert "Google refused the service account key in GOOGLE_APPLICATION_CREDENTIALS (invalid_grant" in err
    assert google.SERVICE_ACCOUNT in err

    key_file = Path(os.environ["GOOGLE_APPLICATION_CREDENTIALS"])
    unreachable = key_file.with_name("unreachable.json")  # a token_uri nothing listens on
    unreachable.write_text(json.dumps({**json.loads(key_file.read_text(encoding="utf-8")),
                                       "token_uri": f"http://127.0.0.1:{_closed_port()}/token"}), encoding="utf-8")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(unreachable))
    assert "Google could not be reached (GOOGLE_API_URL, or the key file's token_uri)" in fails()
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file.with_name("missing.json")))
    assert f"GOOGLE_APPLICATION_CREDENTIALS {key_file.with_name('missing.json')} is not a readable service account key" \
        in fails()
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    monkeypatch.delenv("EMD_DRIVE_FOLDER_ID")
    assert "--to slides needs GOOGLE_APPLICATION_CREDENTIALS, EMD_DRIVE_FOLDER_ID" in fails()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_failed_update_keeps_the_complete_deck(slides_env: MockApi) -> None:
    assert main(["readout", "--period", "2026-03", "--to", "slides"]) == 0
    [deck] = _decks(slides_env)
    slides_env.state.switches["google_batch_update_fails"] = 3
    assert main(["readout", "--period", "2026-03", "--to", "slides"]) == 1
    [after] = _decks(slides_env)  # batchUpdate is all or nothing: the deck is the complete one of the first run
    assert after["id"] == deck["id"] and after["presentation"] == deck["presentation"]
    assert after["appProperties"]["emd_readout_state"] == "complete"


def test_mock_checks_requests_against_the_discovery_documents(slides_env: MockApi) -> None:
    """The mock refuses what Google would: a field a batchUpdate request kind does not have, an unknown query
    parameter, a request without an access token."""
    token = httpx.post(slides_env.url + "/google/token", data={"grant_type": "client_credentials"})
    assert token.status_code == 400 and token.json()["error"] == "unsupported_grant_type"
    from google.auth.transport.requests import Request as AuthRequest
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(
        google.service_account_info(slides_env.url), scopes=["https://www.googleapis.com/auth/presentations"])
    credentials.refresh(AuthRequest())
    headers = {"Authorization": f"Bearer {credentials.token}"}
    bad = httpx.post(f"{slides_env.url}/google/v1/presentations/{google.TEMPLATE_ID}:batchUpdate", headers=headers,
                     json={"requests": [{"createTable": {"rows": 1, "columns": 1, "cells": []}}]})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert "Unknown name \"cells\" at 'requests[0].create_table'" in error["message"]
    assert error["errors"][0]["reason"] == "invalid"
    unknown = httpx.get(f"{slides_env.url}/google/drive/v3/files", params={"q": "trashed = false", "color": "red"},
                        headers=headers)
    assert unknown.status_code == 400 and unknown.json()["error"]["errors"][0]["location"] == "color"
    unauthenticated = httpx.get(f"{slides_env.url}/google/drive/v3/files/{google.TEMPLATE_ID}")
    assert unauthenticated.json()["error"]["status"] == "UNAUTHENTICATED"


def test_monthly_asset_writes_the_slides_target(slides_env: MockApi, readout_env: Path) -> None:  # noqa: F811
    from dagster import materialize

    from orchestration.defs.readouts.definitions import exec_readout
    from orchestration.resources import ProjectConfigResource

    config = readout_env / "config.yaml"
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["readouts"] = {"targets": ["slides"]}
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    result = materialize([exec_readout], partition_key="2026-03-01",
                         resources={"project_config": ProjectConfigResource()})
    assert result.success
    [deck] = _decks(slides_env)
    assert deck["name"] == ORG_TITLE
    metadata = str(result.asset_materializations_for_node("exec_readout")[0].metadata)
    assert f"https://docs.google.com/presentation/d/{deck['id']}/edit" in metadata
    assert "ya29." not in metadata and "PRIVATE KEY" not in metadata


def test_outside_text_is_put_in_as_plain_text(slides_env: MockApi) -> None:
    """A summary (the model's words) or a team name holding `{{title}}` or markup is shown as it is: it is not
    taken for a later placeholder, and nothing in it is interpreted."""
    from emd.readout.run import prepare, write

    readout = prepare("2026-03", use_model=False)
    readout.summary = "Ship it {{title}} <b>now</b> \x07done"
    write(readout, "slides")
    [deck] = _decks(slides_env)
    slides = _slides(deck)
    assert slides[0]["texts"][0] == ORG_TITLE
    summary = "\n".join(slides[1]["texts"])
    assert "Ship it {\u200b{title}} <b>now</b> done" in summary  # the control character dropped, the rest as is


def _shape(object_id: str, text: str) -> dict[str, Any]:
    return {"objectId": object_id, "shape": {"text": {"textElements": [{"textRun": {"content": text + "\n"}}]}}}


def test_a_rerun_finds_the_filled_shapes_by_id_else_by_place() -> None:
    from emd.readout.slides_deck import restore_requests

    template = {"slides": [{"objectId": "p1", "pageElements": [_shape("t1", "{{title}}"), _shape("t2", "Fixed"),
                                                               _shape("t3", "By {{scope}}")]}]}
    # t1 kept its id; t3's shape got another id in the copy (y3, the third shape of the first slide).
    deck = {"slides": [{"objectId": "p1", "pageElements": [_shape("t1", "Readout"), _shape("y2", "Fixed"),
                                                           _shape("y3", "By web")]},
                       {"objectId": "emd_s01", "pageElements": [_shape("emd_s01_title", "Flow")]}]}
    assert restore_requests(template, deck) == [
        {"deleteObject": {"objectId": "emd_s01"}},
        {"deleteText": {"objectId": "t1", "textRange": {"type": "ALL"}}},
        {"insertText": {"objectId": "t1", "text": "{{title}}", "insertionIndex": 0}},
        {"deleteText": {"objectId": "y3", "textRange": {"type": "ALL"}}},
        {"insertText": {"objectId": "y3", "text": "By {{scope}}", "insertionIndex": 0}},
    ]
