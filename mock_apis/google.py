"""Mock Google Drive v3 and Slides v1 under `/google/` (GOOGLE_API_URL = {mock}/google), with the OAuth token
endpoint of a service account, checked against Google's published discovery documents as the client library
ships them (`googleapiclient/discovery_cache/documents/drive.v3.json`, `slides.v1.json`):

- each request must match a method of the documents (HTTP method and path: Drive's `drive/v3/` paths, Slides'
  `v1/presentations/...`), carry its required parameters, use only the method's and the documents' global
  query parameters (enum values checked), and send a body whose fields, at every level, are properties of the
  method's request schema (so each batchUpdate request kind and its fields are checked too);
- `POST /google/token` (a key file's `token_uri`): grant_type `urn:ietf:params:oauth:grant-type:jwt-bearer`,
  the assertion's RS256 signature verified against the service account's public key (`iss` the account's
  email, `aud` Google's token endpoint); a revoked key (switch `google_key_revoked`) answers `invalid_grant` "Invalid JWT
  Signature." as Google does for a deleted key;
- Drive `files.get`, `files.copy`, `files.list` (`q`: `'ID' in parents`, `appProperties has { key='k' and
  value='v' }`, `trashed = false`, `name = '...'`, `mimeType = '...'`, joined by `and`), `files.update`,
  `files.delete`; Slides `presentations.get` and `presentations.batchUpdate` (replaceAllText, createSlide,
  createTable, insertText, deleteText, deleteObject), atomic like Google's: one failing request applies none.

The service account reads the two templates (`TEMPLATE_ID` with the readout's placeholders, `BARE_TEMPLATE_ID`
without them), may write `FOLDER_ID`, and only read `READ_ONLY_FOLDER_ID`; any other id is unknown to it (404
"File not found"). Errors are Google's JSON errors `{"error": {"code", "message", "status", "errors": [...]}}`.
Decks are kept in memory; `GET /_mock/google/files` returns every file with its presentation for the tests.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mock_apis.server import MockState, Request, Response, Router

PREFIX = "/google/"
SERVICE_ACCOUNT = "emd-readouts@emd-mock.iam.gserviceaccount.com"
KEY_ID = "0123456789abcdef0123456789abcdef01234567"
TEMPLATE_ID = "1TemplateDeckWithPlaceholders000000000000"
BARE_TEMPLATE_ID = "1TemplateDeckWithoutPlaceholders00000000"
FOLDER_ID = "1ReadoutsFolder0000000000000000"
READ_ONLY_FOLDER_ID = "1ReadOnlyFolder0000000000000000"
SLIDES_MIME = "application/vnd.google-apps.presentation"
FOLDER_MIME = "application/vnd.google-apps.folder"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # an assertion's `aud`, whatever URI it is posted to
_OBJECT_ID = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_\-:]{4,49}$")


@functools.lru_cache(maxsize=1)
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_info(url: str) -> dict[str, str]:
    """The service account's key file (JSON) as the Cloud console would let one download it, its token_uri
    pointing at the mock served at `url`."""
    pem = _key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()).decode("ascii")
    return {"type": "service_account", "project_id": "emd-mock", "private_key_id": KEY_ID, "private_key": pem,
            "client_email": SERVICE_ACCOUNT, "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": url + "/google/token",
            "universe_domain": "googleapis.com"}


def write_key_file(path: Path, url: str) -> Path:
    path.write_text(json.dumps(service_account_info(url)), encoding="utf-8")
    path.chmod(0o600)
    return path


# ------------------------------------------------------------------------------ the discovery documents

@functools.lru_cache(maxsize=2)
def discovery(name: str, version: str) -> dict[str, Any]:
    from googleapiclient.discovery_cache import get_static_doc

    text = get_static_doc(name, version)
    if text is None:
        raise RuntimeError(f"google-api-python-client ships no discovery document for {name} {version}")
    parsed: dict[str, Any] = json.loads(text)
    return parsed


class GoogleError(Exception):
    def __init__(self, code: int, status: str, message: str, reason: str, **extra: str):
        super().__init__(message)
        self.response = Response(code, {"error": {"code": code, "message": message, "status": status,
                                                  "errors": [{"message": message, "domain": "global",
                                                              "reason": reason, **extra}]}})


def _invalid(message: str, location: str | None = None) -> GoogleError:
    extra = {"locationType": "parameter", "location": location} if location else {}
    return GoogleError(400, "INVALID_ARGUMENT", message, "invalid", **extra)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _check_value(value: Any, spec: dict[str, Any], schemas: dict[str, Any], where: str) -> None:
    """A JSON value against a discovery schema: unknown fields are refused the way Google's JSON parser does."""
    if "$ref" in spec:
        spec = schemas[spec["$ref"]]
    kind = spec.get("type")
    if kind == "object" or "properties" in spec:
        if not isinstance(value, dict):
            raise _invalid(f"Invalid JSON payload received. Expected an object at '{where}'.")
        props = spec.get("properties")
        extra = spec.get("additionalProperties")
        for key, item in value.items():
            if props is not None and key in props:
                _check_value(item, props[key], schemas, f"{where}.{_snake(key)}" if where else _snake(key))
            elif extra is not None:
                if item is not None:
                    _check_value(item, extra, schemas, f"{where}[{key}]")
            else:
                raise _invalid(f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field.")
    elif kind == "array":
        if not isinstance(value, list):
            raise _invalid(f"Invalid JSON payload received. Expected a list at '{where}'.")
        for i, item in enumerate(value):
            _check_value(item, spec.get("items", {}), schemas, f"{where}[{i}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise _invalid(f"Invalid value at '{where}', expected a string.")
        if "enum" in spec and value not in spec["enum"]:
            raise _invalid(f"Invalid value at '{where}' ({value}), expected one of {', '.join(spec['enum'])}.")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _invalid(f"Invalid value at '{where}', expected an integer.")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid(f"Invalid value at '{where}', expected a number.")
    elif kind == "boolean" and not isinstance(value, bool):
        raise _invalid(f"Invalid value at '{where}', expected a boolean.")


def _checked(doc: dict[str, Any], method: dict[str, Any], req: Request, path_params: dict[str, str]) -> Any:
    """The request's JSON body after checking parameters and body against the method's description."""
    params = method.get("parameters", {})
    for name, value in req.query.items():
        spec = params.get(name) or doc["parameters"].get(name)
        if spec is None:
            raise _invalid(f"Invalid JSON payload received. Unknown name \"{name}\": Cannot bind query parameter.", name)
        if "enum" in spec and any(v not in spec["enum"] for v in value):
            raise _invalid(f"Invalid value for {name}: {value[0]}", name)
        if spec.get("type") == "boolean" and any(v not in ("true", "false") for v in value):
            raise _invalid(f"Invalid value for {name}: {value[0]}", name)
    for name, spec in params.items():
        if spec.get("required") and name not in req.query and name not in path_params:
            raise GoogleError(400, "INVALID_ARGUMENT", f"Required parameter: {name}", "required",
                              locationType="parameter", location=name)
    body = req.json() if req.body else None
    if "request" in method:
        if body is None:
            body = {}
        _check_value(body, method["request"], doc["schemas"], "")
    elif body not in (None, {}):
        raise _invalid("Invalid JSON payload received. This method takes no request body.")
    return body


# ------------------------------------------------------------------------------ the decks

def _shape(object_id: str, text: str, placeholder: str | None = None) -> dict[str, Any]:
    shape: dict[str, Any] = {"shapeType": "TEXT_BOX", "text": text}
    if placeholder:
        shape["placeholder"] = {"type": placeholder, "index": 0}
    return {"objectId": object_id, "kind": "shape", "shape": shape}


def _template(with_placeholders: bool) -> dict[str, Any]:
    """A readout template as a team would make it: a title slide and a summary slide with `{{placeholders}}`."""
    title, subtitle, summary = (("{{title}}", "{{period}} · {{covered}}", "{{summary}}") if with_placeholders
                                else ("Engineering readout", "Month and data", "Summary goes here"))
    return {
        "title": "Readout template" if with_placeholders else "Plain deck",
        "layouts": [{"objectId": "layout_title", "layoutProperties": {"name": "TITLE"}},
                    {"objectId": "layout_title_only", "layoutProperties": {"name": "TITLE_ONLY"}},
                    {"objectId": "layout_blank", "layoutProperties": {"name": "BLANK"}}],
        "slides": [
            {"objectId": "p_title", "layout": "layout_title",
             "elements": [_shape("p_title_t", title, "CENTERED_TITLE"), _shape("p_title_s", subtitle, "SUBTITLE")]},
            {"objectId": "p_summary", "layout": "layout_title_only",
             "elements": [_shape("p_summary_t", "Executive summary", "TITLE"),
                          _shape("p_summary_b", summary + ("\nTop risks\n{{risks}}\nRecommendations\n{{recommendations}}"
                                                           "\nDashboard: {{dashboard_url}}" if with_placeholders else ""))]},
        ],
    }


def _text_elements(text: str) -> dict[str, Any]:
    """Slides' TextContent: each paragraph a paragraphMarker and a textRun ending in a newline."""
    out: list[dict[str, Any]] = []
    index = 0
    for paragraph in text.split("\n"):
        content = paragraph + "\n"
        out.append({"startIndex": index, "endIndex": index + len(content), "paragraphMarker": {"style": {}}})
        out.append({"startIndex": index, "endIndex": index + len(content), "textRun": {"content": content, "style": {}}})
        index += len(content)
    return {"textElements": out}


def _public_element(element: dict[str, Any]) -> dict[str, Any]:
    if element["kind"] == "table":
        table = element["table"]
        return {"objectId": element["objectId"], "table": {
            "rows": len(table["cells"]), "columns": len(table["cells"][0]),
            "tableRows": [{"tableCells": [{"location": {"rowIndex": r, "columnIndex": c}, "rowSpan": 1, "columnSpan": 1,
                                           "text": _text_elements(cell)} for c, cell in enumerate(row)]}
                          for r, row in enumerate(table["cells"])]}}
    shape = dict(element["shape"])
    shape["text"] = _text_elements(shape["text"])
    return {"objectId": element["objectId"], "shape": shape}


def _public_presentation(file_id: str, deck: dict[str, Any]) -> dict[str, Any]:
    return {"presentationId": file_id, "title": deck["title"], "revisionId": str(deck.get("revision", 1)),
            "pageSize": {"width": {"magnitude": 9144000, "unit": "EMU"}, "height": {"magnitude": 5143500, "unit": "EMU"}},
            "layouts": copy.deepcopy(deck["layouts"]),
            "slides": [{"objectId": s["objectId"], "pageType": "SLIDE",
                        "slideProperties": {"layoutObjectId": s["layout"]},
                        "pageElements": [_public_element(e) for e in s["elements"]]} for s in deck["slides"]]}


class _Deck:
    """One batchUpdate applied to a copy of a deck (committed only when every request succeeds)."""

    def __init__(self, deck: dict[str, Any]):
        self.deck = deck

    def ids(self) -> set[str]:
        out = {layout["objectId"] for layout in self.deck["layouts"]}
        for slide in self.deck["slides"]:
            out.add(slide["objectId"])
            out |= {e["objectId"] for e in slide["elements"]}
        return out

    def new_id(self, wanted: str | None, where: str) -> str:
        if wanted is None:
            return "g" + secrets.token_hex(8)
        if not _OBJECT_ID.match(wanted):
            raise _invalid(f"Invalid requests[{where}]: The object ID ({wanted}) should start with a word character "
                           "[a-zA-Z0-9_] and then be followed by any number of the following characters [a-zA-Z0-9_-:].")
        if wanted in self.ids():
            raise _invalid(f"Invalid requests[{where}]: The object ID ({wanted}) should be unique among all pages and "
                           "page elements.")
        return wanted

    def element(self, object_id: str, where: str) -> dict[str, Any]:
        for slide in self.deck["slides"]:
            for e in slide["elements"]:
                if e["objectId"] == object_id:
                    return e
        raise _invalid(f"Invalid requests[{where}]: The object ({object_id}) could not be found.")

    def text_of(self, request: dict[str, Any], where: str) -> tuple[dict[str, Any], str]:
        """The object holding the request's text (a shape, or a table's cell) and the key of that text."""
        target = self.element(str(request.get("objectId")), where)
        cell = request.get("cellLocation")
        if target["kind"] == "table":
            if cell is None:
                raise _invalid(f"Invalid requests[{where}]: The cell location must be specified for a table.")
            r, c = int(cell.get("rowIndex", 0)), int(cell.get("columnIndex", 0))
            cells = target["table"]["cells"]
            if not (0 <= r < len(cells) and 0 <= c < len(cells[0])):
                raise _invalid(f"Invalid requests[{where}]: The cell location ({r}, {c}) is outside the table.")
            return {"row": cells[r], "key": c}, "cell"
        if cell is not None:
            raise _invalid(f"Invalid requests[{where}]: A cell location can only be given for a table.")
        return {"row": target["shape"], "key": "text"}, "shape"

    def apply(self, i: int, request: dict[str, Any]) -> dict[str, Any]:
        if len(request) != 1:
            raise _invalid(f"Invalid requests[{i}]: exactly one request kind must be set.")
        kind, body = next(iter(request.items()))
        where = f"{i}].{kind}"
        if kind == "replaceAllText":
            match = (body.get("containsText") or {})
            needle, case = match.get("text") or "", bool(match.get("matchCase", False))
            if not needle:
                raise _invalid(f"Invalid requests[{where}]: The containsText.text must not be empty.")
            pattern = re.compile(re.escape(needle), 0 if case else re.IGNORECASE)
            pages = set(body.get("pageObjectIds") or [])
            changed = 0
            for slide in self.deck["slides"]:
                if pages and slide["objectId"] not in pages:
                    continue
                for e in slide["elements"]:
                    holders: list[tuple[Any, Any]] = ([(e["shape"], "text")] if e["kind"] == "shape"
                               else [(row, c) for row in e["table"]["cells"] for c in range(len(row))])
                    for holder, key in holders:
                        # A function as the replacement: the text is literal, never a regex template.
                        holder[key], n = pattern.subn(lambda _m: str(body.get("replaceText", "")), holder[key])
                        changed += n
            return {"replaceAllText": {"occurrencesChanged": changed}}
        if kind == "createSlide":
            object_id = self.new_id(body.get("objectId"), where)
            layout_ref = body.get("slideLayoutReference") or {"predefinedLayout": "BLANK"}
            name = layout_ref.get("predefinedLayout")
            layout = next((lay for lay in self.deck["layouts"]
                           if lay["objectId"] == layout_ref.get("layoutId") or lay["layoutProperties"]["name"] == name),
                          None)
            if layout is None:
                raise _invalid(f"Invalid requests[{where}]: The layout {name or layout_ref.get('layoutId')} could "
                               "not be found in the presentation.")
            elements = []
            for mapping in body.get("placeholderIdMappings") or []:
                placeholder = (mapping.get("layoutPlaceholder") or {}).get("type")
                if placeholder not in ("TITLE", "BODY", "SUBTITLE", "CENTERED_TITLE"):
                    raise _invalid(f"Invalid requests[{where}]: The layout has no placeholder {placeholder}.")
                elements.append(_shape(self.new_id(mapping.get("objectId"), where), "", placeholder))
            slide = {"objectId": object_id, "layout": layout["objectId"], "elements": elements}
            index = body.get("insertionIndex")
            slides = self.deck["slides"]
            slides.insert(len(slides) if index is None else int(index), slide)
            return {"createSlide": {"objectId": object_id}}
        if kind == "createTable":
            props = body.get("elementProperties") or {}
            page = next((s for s in self.deck["slides"] if s["objectId"] == props.get("pageObjectId")), None)
            if page is None:
                raise _invalid(f"Invalid requests[{where}]: The page ({props.get('pageObjectId')}) could not be found.")
            rows, columns = int(body.get("rows") or 0), int(body.get("columns") or 0)
            if rows < 1 or columns < 1:
                raise _invalid(f"Invalid requests[{where}]: A table must have at least one row and one column.")
            object_id = self.new_id(body.get("objectId"), where)
            page["elements"].append({"objectId": object_id, "kind": "table",
                                     "table": {"cells": [[""] * columns for _ in range(rows)]}})
            return {"createTable": {"objectId": object_id}}
        if kind == "insertText":
            holder, _ = self.text_of(body, where)
            text = body.get("text")
            if not text:
                raise _invalid(f"Invalid requests[{where}]: The text must not be empty.")
            current = holder["row"][holder["key"]]
            index = int(body.get("insertionIndex", 0) or 0)
            if not 0 <= index <= len(current):
                raise _invalid(f"Invalid requests[{where}]: The insertion index ({index}) is out of range.")
            holder["row"][holder["key"]] = current[:index] + text + current[index:]
            return {}
        if kind == "deleteText":
            holder, _ = self.text_of(body, where)
            text_range = body.get("textRange") or {"type": "ALL"}
            current = holder["row"][holder["key"]]
            if text_range.get("type") == "ALL":
                holder["row"][holder["key"]] = ""
            else:
                start = int(text_range.get("startIndex", 0))
                end = int(text_range.get("endIndex", len(current))) if text_range.get("type") == "FIXED_RANGE" else len(current)
                holder["row"][holder["key"]] = current[:start] + current[end:]
            return {}
        if kind == "deleteObject":
            object_id = body.get("objectId")
            slides = self.deck["slides"]
            for slide in slides:
                if slide["objectId"] == object_id:
                    slides.remove(slide)
                    return {}
                for e in slide["elements"]:
                    if e["objectId"] == object_id:
                        slide["elements"].remove(e)
                        return {}
            raise _invalid(f"Invalid requests[{where}]: The object ({object_id}) could not be found.")
        raise GoogleError(501, "UNIMPLEMENTED", f"mock-api: the Slides request {kind} is valid but not implemented "
                                                "by the mock", "notImplemented")


# ------------------------------------------------------------------------------ files.list's q

_Q_TERM = re.compile(
    r"\s*(?:'(?P<parent>(?:[^'\\]|\\.)*)'\s+in\s+parents"
    r"|appProperties\s+has\s+\{\s*key\s*=\s*'(?P<key>(?:[^'\\]|\\.)*)'\s+and\s+value\s*=\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*\}"
    r"|trashed\s*=\s*(?P<trashed>true|false)"
    r"|(?P<field>name|mimeType)\s*=\s*'(?P<literal>(?:[^'\\]|\\.)*)')\s*")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _q_filter(q: str) -> list[Any]:
    """The query's terms as predicates over a file; ValueError for what the mock (or Drive) cannot parse."""
    terms: list[Any] = []
    for part in re.split(r"\s+and\s+(?![^{]*\})", q.strip()):
        m = _Q_TERM.fullmatch(part)
        if m is None:
            raise ValueError(part)
        if m.group("parent") is not None:
            parent = _unquote(m.group("parent"))
            terms.append(lambda f, p=parent: p in f["parents"])
        elif m.group("key") is not None:
            key, value = _unquote(m.group("key")), _unquote(m.group("value"))
            terms.append(lambda f, k=key, v=value: f.get("appProperties", {}).get(k) == v)
        elif m.group("trashed") is not None:
            wanted = m.group("trashed") == "true"
            terms.append(lambda f, t=wanted: f["trashed"] == t)
        else:
            field, literal = m.group("field"), _unquote(m.group("literal"))
            terms.append(lambda f, k=field, v=literal: f.get(k) == v)
    return terms


# ------------------------------------------------------------------------------ routes

def _path_pattern(path: str) -> str:
    """A discovery path (`v1/presentations/{presentationId}:batchUpdate`, `{+name}`) as a route pattern."""
    parts = re.split(r"\{\+?(\w+)\}", path)
    return "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))


def register(router: Router, state: MockState) -> None:
    files: dict[str, dict[str, Any]] = state.extra.setdefault("google_files", {})
    for template_id, with_placeholders in ((TEMPLATE_ID, True), (BARE_TEMPLATE_ID, False)):
        deck = _template(with_placeholders)
        files[template_id] = {"id": template_id, "name": deck["title"], "mimeType": SLIDES_MIME, "parents": [],
                              "trashed": False, "role": "reader", "deck": deck}
    files[FOLDER_ID] = {"id": FOLDER_ID, "name": "Readouts", "mimeType": FOLDER_MIME, "parents": [],
                        "trashed": False, "role": "writer"}
    files[READ_ONLY_FOLDER_ID] = {"id": READ_ONLY_FOLDER_ID, "name": "Leadership (view only)", "mimeType": FOLDER_MIME,
                                  "parents": [], "trashed": False, "role": "reader"}
    tokens: set[str] = state.extra.setdefault("google_tokens", set())
    counter = itertools.count(1)

    def public_file(f: dict[str, Any]) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in f.items() if k not in ("deck", "role")}
        out["kind"] = "drive#file"
        if f["mimeType"] == SLIDES_MIME:
            out["webViewLink"] = f"https://docs.google.com/presentation/d/{f['id']}/edit?usp=drivesdk"
        return out

    def not_found(file_id: str) -> GoogleError:
        return GoogleError(404, "NOT_FOUND", f"File not found: {file_id}.", "notFound", locationType="parameter",
                           location="fileId")

    def readable(file_id: str) -> dict[str, Any]:
        f = files.get(file_id)
        if f is None:
            raise not_found(file_id)
        return f

    def writable(file_id: str) -> dict[str, Any]:
        f = readable(file_id)
        if f["role"] not in ("writer", "owner"):
            raise GoogleError(403, "PERMISSION_DENIED", "The user does not have sufficient permissions for this file.",
                              "insufficientFilePermissions")
        return f

    def token(req: Request, _m: re.Match[str]) -> Response:
        import google.auth.exceptions
        from google.auth import jwt

        state.count("google:token")
        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8")).items()}
        if form.get("grant_type") != JWT_BEARER:
            return Response(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "
                                  + str(form.get("grant_type"))})
        public = _key().public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
        try:
            claims = jwt.decode(form.get("assertion", ""), certs={KEY_ID: public},
                                audience=TOKEN_AUDIENCE)
        except (ValueError, google.auth.exceptions.GoogleAuthError):
            return Response(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        if state.switches.get("google_key_revoked"):  # the key was deleted in the Cloud console, or expired
            return Response(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        if claims.get("iss") != SERVICE_ACCOUNT or not claims.get("scope"):
            return Response(400, {"error": "invalid_grant", "error_description": "Invalid JWT: iss or scope."})
        access = "ya29.mock-" + secrets.token_urlsafe(24)
        with state.lock:
            tokens.add(access)
        return Response(body={"access_token": access, "expires_in": 3599, "token_type": "Bearer"})

    def handler(doc: dict[str, Any], method: dict[str, Any], implementation: Any) -> Any:
        def handle(req: Request, m: re.Match[str]) -> Response:
            state.count(f"google:{method['id']}")
            try:
                auth = req.headers.get("authorization", "")
                if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in tokens:
                    raise GoogleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. "
                                      "Expected OAuth 2 access token, login cookie or other valid authentication "
                                      "credential.", "authError", locationType="header", location="Authorization")
                path_params = {k: v for k, v in m.groupdict().items() if v is not None}
                body = _checked(doc, method, req, path_params)
                with state.lock:
                    return implementation(req, path_params, body)
            except GoogleError as exc:
                return exc.response
        return handle

    def files_get(req: Request, p: dict[str, str], _body: Any) -> Response:
        return Response(body=public_file(readable(p["fileId"])))

    def files_copy(req: Request, p: dict[str, str], body: dict[str, Any]) -> Response:
        source = readable(p["fileId"])
        parents = body.get("parents") or []
        if len(parents) > 1:
            raise _invalid("A shared drive item must have exactly one parent.")
        for parent in parents:
            folder = readable(parent)
            if folder["role"] not in ("writer", "owner"):
                raise GoogleError(403, "PERMISSION_DENIED", "Insufficient permissions for the specified parent.",
                                  "insufficientParentPermissions")
        file_id = f"1Copy{next(counter):04d}{secrets.token_hex(10)}"
        made = {"id": file_id, "name": body.get("name") or f"Copy of {source['name']}", "mimeType": source["mimeType"],
                "parents": list(parents), "trashed": False, "role": "owner",
                "appProperties": dict(body.get("appProperties") or {})}
        if "deck" in source:
            made["deck"] = copy.deepcopy(source["deck"])  # object ids are kept, as Google's copy keeps them
            made["deck"]["title"] = made["name"]
        files[file_id] = made
        return Response(body=public_file(made))

    def files_list(req: Request, _p: dict[str, str], _body: Any) -> Response:
        q = req.arg("q") or ""
        try:
            terms = _q_filter(q) if q else []
        except ValueError:
            raise _invalid("Invalid Value", "q") from None
        found = [public_file(f) for f in files.values() if all(t(f) for t in terms)]
        return Response(body={"kind": "drive#fileList", "incompleteSearch": False, "files": found})

    def files_update(req: Request, p: dict[str, str], body: dict[str, Any]) -> Response:
        f = writable(p["fileId"])
        for key in ("name", "trashed"):
            if key in body:
                f[key] = body[key]
                if key == "name" and "deck" in f:
                    f["deck"]["title"] = body[key]
        for key, value in (body.get("appProperties") or {}).items():
            if value is None:
                f.setdefault("appProperties", {}).pop(key, None)
            else:
                f.setdefault("appProperties", {})[key] = value
        return Response(body=public_file(f))

    def files_delete(req: Request, p: dict[str, str], _body: Any) -> Response:
        f = readable(p["fileId"])
        if f["role"] != "owner":
            raise GoogleError(403, "PERMISSION_DENIED", "The user does not have sufficient permissions for this file.",
                              "insufficientFilePermissions")
        del files[p["fileId"]]
        return Response(204, b"")

    def presentation(file_id: str) -> dict[str, Any]:
        f = files.get(file_id)
        if f is None or "deck" not in f:
            raise GoogleError(404, "NOT_FOUND", "Requested entity was not found.", "notFound")
        return f

    def presentations_get(req: Request, p: dict[str, str], _body: Any) -> Response:
        return Response(body=_public_presentation(p["presentationId"], presentation(p["presentationId"])["deck"]))

    def presentations_batch_update(req: Request, p: dict[str, str], body: dict[str, Any]) -> Response:
        f = presentation(p["presentationId"])
        if f["role"] not in ("writer", "owner"):
            raise GoogleError(403, "PERMISSION_DENIED", "The caller does not have permission", "forbidden")
        work = _Deck(copy.deepcopy(f["deck"]))
        replies = [work.apply(i, request) for i, request in enumerate(body.get("requests") or [])]
        if state.switches.get("google_batch_update_fails"):  # e.g. a quota or a backend error after validation
            state.switches["google_batch_update_fails"] -= 1
            raise GoogleError(500, "INTERNAL", "Internal error encountered.", "backendError")
        work.deck["revision"] = int(work.deck.get("revision", 1)) + 1
        f["deck"] = work.deck
        return Response(body={"presentationId": p["presentationId"], "replies": replies,
                              "writeControl": {"requiredRevisionId": str(work.deck["revision"])}})

    implemented = {("drive", "drive.files.get"): files_get, ("drive", "drive.files.copy"): files_copy,
                   ("drive", "drive.files.list"): files_list, ("drive", "drive.files.update"): files_update,
                   ("drive", "drive.files.delete"): files_delete,
                   ("slides", "slides.presentations.get"): presentations_get,
                   ("slides", "slides.presentations.batchUpdate"): presentations_batch_update}
    for name, version in (("drive", "v3"), ("slides", "v1")):
        doc = discovery(name, version)
        methods = [m for r in doc["resources"].values() for m in r.get("methods", {}).values()]
        for method in methods:
            implementation = implemented.get((name, method["id"]))
            if implementation is None:
                continue
            path = _path_pattern(doc["servicePath"] + method["path"])
            router.add(method["httpMethod"], PREFIX + path, handler(doc, method, implementation))

    def recorded(_req: Request, _m: re.Match[str]) -> Response:
        with state.lock:
            return Response(body={"files": [{**public_file(f), "role": f["role"],
                                             **({"presentation": _public_presentation(f["id"], f["deck"])}
                                                if "deck" in f else {})} for f in files.values()]})

    router.add("POST", "/google/token", token)
    router.add("GET", "/_mock/google/files", recorded)
