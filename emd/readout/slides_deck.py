"""The readout as a Google Slides deck (the official google-api-python-client, a service account).

The team's template deck (`EMD_SLIDES_TEMPLATE_ID`) is copied into `EMD_DRIVE_FOLDER_ID` with Drive's
`files.copy`; its `{{placeholders}}` are filled with Slides' `replaceAllText`, and each area, the working
agreements, the SLOs and the 6-period trends are added as slides holding native Slides tables. No chart is an
image: Slides only inserts images from a URL Google can fetch, and the readout never makes data public.

Idempotence: the deck carries the Drive appProperty `emd_readout` = `org/PERIOD` or `team/TEAM/PERIOD`; a
re-run finds it in the folder, puts the template's placeholder texts back (a copy keeps the template's object
ids), deletes the slides the last run added and fills it again, so the same deck (same URL) is updated and a
second one is never made. Every change to a deck's content is one `batchUpdate`, which Google applies whole or
not at all; a fresh copy whose filling fails is deleted, so no half-written deck is left behind as complete.
"""

from __future__ import annotations

import re
from typing import Any

from emd import settings
from emd.metrics.catalogue import CATALOGUE, format_value
from emd.readout.content import Readout, ReadoutError
from emd.text import plain_text

SCOPES = ("https://www.googleapis.com/auth/drive", "https://www.googleapis.com/auth/presentations")
REQUIRED_PLACEHOLDERS = ("title", "period", "summary")
OPTIONAL_PLACEHOLDERS = ("scope", "covered", "risks", "recommendations", "dashboard_url")
PERIOD_KEY, STATE_KEY = "emd_readout", "emd_readout_state"  # Drive appProperties of a readout deck
GENERATED = "emd_"  # the object ids of the slides a run adds (a template's own ids never start so)
INCOMPLETE = " (incomplete)"
ROWS_PER_SLIDE = 9  # a header and 9 rows fit a 16:9 slide at the default text size
EMU_PER_INCH = 914400
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def deck_key(readout: Readout) -> str:
    """The appProperty value that finds a period's deck (Drive allows 124 bytes for key and value)."""
    if readout.team:
        return f"team/{readout.team}/{readout.period.id}"
    return f"org/{readout.org}/{readout.period.id}" if readout.org else f"org/{readout.period.id}"


def _literal(text: object) -> str:
    """Outside text as it is put into the deck: plain text, and a `{{` broken by a zero-width space so a value
    (a team name, the model's summary) can never be taken for a later placeholder by replaceAllText."""
    return plain_text(text).replace("{{", "{\u200b{")


def placeholder_values(readout: Readout) -> dict[str, str]:
    start, end = readout.covered
    return {
        "title": readout.title,
        "period": f"{readout.period.id} compared with {readout.previous.id}",
        "scope": readout.scope,
        "covered": f"data {start} to {end}" + (" (part of the period)" if readout.partial else ""),
        "summary": readout.summary,
        "risks": "\n".join(readout.risks) or "No measure worsened and no DORA key is in the low band.",
        "recommendations": "\n".join(readout.recommendations) or "Keep the current practices.",
        "dashboard_url": readout.dashboard_url,
    }


def _tables(readout: Readout) -> list[tuple[str, list[str], list[list[str]]]]:
    """(slide title, header, rows) of each slide the readout adds to the template's."""
    out: list[tuple[str, list[str], list[list[str]]]] = []
    for area in readout.areas:
        dora = any(m.band for m in area.measures)
        header = ["Measure", readout.period.id, readout.previous.id, "Change", "Sample"] + (["Band"] if dora else [])
        out.append((area.title, header,
                    [[m.label, m.text, m.previous_text, m.change_text or "\u2014", str(m.sample_size)]
                     + ([f"{m.band or '—'} (was {m.previous_band or '—'})"] if dora else []) for m in area.measures]))
    if readout.agreements:
        out.append(("Working agreements", ["Team", "Agreement", "Held", readout.period.id, readout.previous.id],
                    [[a.team, a.label, f"{a.held} of {a.applied}",
                      "\u2014" if a.rate is None else f"{a.rate * 100:.0f}%",
                      "\u2014" if a.previous_rate is None else f"{a.previous_rate * 100:.0f}%"]
                     for a in readout.agreements]))
    if readout.slos:
        out.append(("SLO error budgets", ["SLO", "Team", "Target", "Budget left", "Status"],
                    [[str(s.get("name")), str(s.get("team")), str(s.get("target")),
                      "\u2014" if s.get("error_budget_remaining_pct") is None
                      else f"{s['error_budget_remaining_pct']:.1f}%", str(s.get("status"))] for s in readout.slos]))
    points = next(iter(readout.trends.values()))
    out.append((f"Trends over {len(points)} {readout.period.kind}s", ["Measure", *(p.period for p in points)],
                [[CATALOGUE[k].label, *(format_value(CATALOGUE[k], p.value) for p in series)]
                 for k, series in readout.trends.items()]))
    return out


def _emu(inches: float) -> dict[str, Any]:
    return {"magnitude": int(inches * EMU_PER_INCH), "unit": "EMU"}


def content_requests(readout: Readout) -> list[dict[str, Any]]:
    """The batchUpdate requests that fill the placeholders and add the readout's table slides."""
    requests: list[dict[str, Any]] = [
        {"replaceAllText": {"containsText": {"text": "{{" + name + "}}", "matchCase": True},
                            "replaceText": _literal(value)}}
        for name, value in placeholder_values(readout).items()]
    n = 0
    for title, header, rows in _tables(readout):
        pages = [rows[i:i + ROWS_PER_SLIDE] for i in range(0, len(rows), ROWS_PER_SLIDE)] or [[]]
        for part, page_rows in enumerate(pages, start=1):
            n += 1
            slide, title_id, table_id = f"{GENERATED}s{n:02d}", f"{GENERATED}s{n:02d}_title", f"{GENERATED}s{n:02d}_table"
            shown = title if len(pages) == 1 else f"{title} ({part}/{len(pages)})"
            requests += [
                {"createSlide": {"objectId": slide, "slideLayoutReference": {"predefinedLayout": "TITLE_ONLY"},
                                 "placeholderIdMappings": [{"layoutPlaceholder": {"type": "TITLE", "index": 0},
                                                            "objectId": title_id}]}},
                {"insertText": {"objectId": title_id, "text": _literal(shown), "insertionIndex": 0}},
                {"createTable": {"objectId": table_id, "rows": len(page_rows) + 1, "columns": len(header),
                                 "elementProperties": {
                                     "pageObjectId": slide,
                                     "size": {"width": _emu(9.0), "height": _emu(0.35 * (len(page_rows) + 1))},
                                     "transform": {"scaleX": 1, "scaleY": 1, "translateX": int(0.5 * EMU_PER_INCH),
                                                   "translateY": int(1.2 * EMU_PER_INCH), "unit": "EMU"}}}},
            ]
            for r, values in enumerate([header, *page_rows]):
                requests += [{"insertText": {"objectId": table_id, "cellLocation": {"rowIndex": r, "columnIndex": c},
                                             "text": _literal(text), "insertionIndex": 0}}
                             for c, text in enumerate(values) if text]
    return requests


def _text(text_content: dict[str, Any] | None) -> str:
    """A shape's or cell's text as Slides returns it, without the final paragraph's newline."""
    runs = (text_content or {}).get("textElements") or []
    return "".join(e.get("textRun", {}).get("content", "") for e in runs).removesuffix("\n")


def template_placeholders(template: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for slide in template.get("slides", []):
        for e in slide.get("pageElements", []):
            texts = [_text(e["shape"].get("text"))] if "shape" in e else [
                _text(cell.get("text")) for row in (e.get("table") or {}).get("tableRows", [])
                for cell in row.get("tableCells", [])]
            for text in texts:
                found |= set(_PLACEHOLDER.findall(text))
    return found


def _template_shapes(presentation: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """(object id, text) of each shape, slide by slide, of the slides a run did not add."""
    return [[(e["objectId"], _text(e["shape"].get("text"))) for e in slide.get("pageElements", []) if "shape" in e]
            for slide in presentation.get("slides", []) if not slide["objectId"].startswith(GENERATED)]


def restore_requests(template: dict[str, Any], deck: dict[str, Any]) -> list[dict[str, Any]]:
    """Requests that turn a filled deck back into the template's state: the slides the last run added deleted,
    each shape that held a placeholder given the template's text again. A copy keeps the template's object
    ids; should an id be missing, the shape at the same place (slide, then shape order) is the one."""
    requests: list[dict[str, Any]] = [{"deleteObject": {"objectId": s["objectId"]}}
                                      for s in deck.get("slides", []) if s["objectId"].startswith(GENERATED)]
    now = dict(pair for shapes in _template_shapes(deck) for pair in shapes)
    deck_shapes = _template_shapes(deck)
    for j, shapes in enumerate(_template_shapes(template)):
        for i, (object_id, original) in enumerate(shapes):
            if not _PLACEHOLDER.search(original):
                continue
            if object_id not in now:
                if j >= len(deck_shapes) or i >= len(deck_shapes[j]):
                    continue
                object_id = deck_shapes[j][i][0]
            if now[object_id] == original:
                continue
            if now[object_id]:
                requests.append({"deleteText": {"objectId": object_id, "textRange": {"type": "ALL"}}})
            requests.append({"insertText": {"objectId": object_id, "text": original, "insertionIndex": 0}})
    return requests


def _q_string(value: str) -> str:
    """A value inside a Drive query's single quotes (Drive escapes `'` and `\\` with a backslash)."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


class _Google:
    """Drive and Slides clients on the service account's key, with the error messages naming what to fix."""

    def __init__(self) -> None:
        import google_auth_httplib2
        import httplib2
        from google.oauth2 import service_account
        from googleapiclient.discovery import build

        names = ("GOOGLE_APPLICATION_CREDENTIALS", "EMD_SLIDES_TEMPLATE_ID", "EMD_DRIVE_FOLDER_ID")
        key_file, self.template_id, self.folder_id = (settings.env(name) for name in names)
        missing = [name for name, value in zip(names, (key_file, self.template_id, self.folder_id), strict=True)
                   if not value]
        if missing:
            raise ReadoutError(f"--to slides needs {', '.join(missing)} (a service account's key file, the template "
                               "deck to copy and the Drive folder to write into; README \"Executive readouts\")")
        assert key_file is not None
        try:
            credentials = service_account.Credentials.from_service_account_file(key_file, scopes=SCOPES)
        except (OSError, ValueError) as exc:  # never the file's content: it holds the private key
            raise ReadoutError(f"GOOGLE_APPLICATION_CREDENTIALS {key_file} is not a readable service account key "
                               f"file ({type(exc).__name__}); download a JSON key of the service account") from None
        self.email = credentials.service_account_email
        endpoint = (settings.env("GOOGLE_API_URL") or "").rstrip("/")

        def client(name: str, version: str, path: str) -> Any:
            http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=60))
            options = {"api_endpoint": endpoint + path} if endpoint else None
            return build(name, version, http=http, client_options=options, static_discovery=True,
                         cache_discovery=False)

        # GOOGLE_API_URL stands for both hosts: Drive's paths under /drive/v3/, Slides' under /v1/.
        self.drive = client("drive", "v3", "/drive/v3/")
        self.slides = client("slides", "v1", "/")

    def run(self, call: Any, what: str) -> Any:
        import google.auth.exceptions
        import httplib2
        from googleapiclient.errors import HttpError

        try:
            return call.execute(num_retries=2)
        except google.auth.exceptions.RefreshError as exc:
            answer = str(exc.args[0]) if exc.args else type(exc).__name__  # Google's error code and description
            raise ReadoutError(f"Google refused the service account key in GOOGLE_APPLICATION_CREDENTIALS ({answer}): "
                               f"it was deleted, disabled or has expired; create a new JSON key for {self.email} "
                               "and point GOOGLE_APPLICATION_CREDENTIALS at it") from None
        except HttpError as exc:
            status = exc.status_code
            if what == "template" and status in (403, 404):
                raise ReadoutError(f"EMD_SLIDES_TEMPLATE_ID {self.template_id} was not found or is not shared with "
                                   f"the service account ({status}): share the template deck with {self.email} "
                                   "(Viewer is enough), or fix the id") from None
            if what == "folder" and status in (403, 404):
                raise ReadoutError(f"EMD_DRIVE_FOLDER_ID {self.folder_id} cannot be written by the service account "
                                   f"({status} {exc.reason}): share that folder with {self.email} as Editor, or "
                                   "fix the id") from None
            if status == 401:
                raise ReadoutError("Google rejected the access token of GOOGLE_APPLICATION_CREDENTIALS' service "
                                   f"account {self.email} (401): check the key and the account") from None
            raise ReadoutError(f"Google answered {status} to {what}: {exc.reason}") from None
        except (httplib2.HttpLib2Error, OSError, google.auth.exceptions.TransportError) as exc:
            raise ReadoutError(f"Google could not be reached (GOOGLE_API_URL, or the key file's token_uri): "
                               f"{type(exc).__name__}") from None


def write_slides(readout: Readout) -> str:
    """Create or update the period's deck; returns its URL."""
    google = _Google()
    template = google.run(google.slides.presentations().get(presentationId=google.template_id), "template")
    missing = [name for name in REQUIRED_PLACEHOLDERS if name not in template_placeholders(template)]
    if missing:
        raise ReadoutError(f"EMD_SLIDES_TEMPLATE_ID {google.template_id} has no "
                           f"{', '.join('{{' + name + '}}' for name in missing)}: add them to the template deck (text "
                           f"boxes; optional: {', '.join('{{' + name + '}}' for name in OPTIONAL_PLACEHOLDERS)}) or "
                           "point EMD_SLIDES_TEMPLATE_ID at a template that has them")
    title, key = plain_text(readout.title), deck_key(readout)
    query = (f"'{_q_string(str(google.folder_id))}' in parents and appProperties has {{ key='{PERIOD_KEY}' and "
             f"value='{_q_string(key)}' }} and trashed = false")
    found = google.run(google.drive.files().list(q=query, fields="files(id,appProperties)", spaces="drive",
                                                 supportsAllDrives=True, includeItemsFromAllDrives=True), "folder")
    # A complete deck first: a copy whose answer was lost (and was retried) is only ever a second choice.
    decks = sorted(found.get("files") or [], key=lambda f: (f.get("appProperties") or {}).get(STATE_KEY) != "complete")
    if decks:
        deck_id = decks[0]["id"]
        deck = google.run(google.slides.presentations().get(presentationId=deck_id), "the deck")
        requests = restore_requests(template, deck) + content_requests(readout)
        google.run(google.slides.presentations().batchUpdate(presentationId=deck_id, body={"requests": requests}),
                   "the deck's update")
        fresh = False
    else:
        body = {"name": title + INCOMPLETE, "parents": [google.folder_id],
                "appProperties": {PERIOD_KEY: key, STATE_KEY: "writing"}}
        made = google.run(google.drive.files().copy(fileId=google.template_id, body=body, fields="id",
                                                    supportsAllDrives=True), "folder")
        deck_id, fresh = made["id"], True
    try:
        if fresh:
            google.run(google.slides.presentations().batchUpdate(
                presentationId=deck_id, body={"requests": content_requests(readout)}), "the deck's content")
        done = google.run(google.drive.files().update(
            fileId=deck_id, body={"name": title, "appProperties": {STATE_KEY: "complete"}},
            fields="id,webViewLink", supportsAllDrives=True), "the deck's name")
    except ReadoutError:
        if fresh:  # a copy that was never filled is not left in the folder looking like a readout
            try:
                google.run(google.drive.files().delete(fileId=deck_id, supportsAllDrives=True), "the copy's removal")
            except ReadoutError:  # the first error is the one to report; the copy's name still says "(incomplete)"
                pass
        raise
    return str(done.get("webViewLink") or f"https://docs.google.com/presentation/d/{deck_id}/edit")
