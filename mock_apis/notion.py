"""Mock Notion API under `/notion/v1/` (NOTION_API_URL = {mock}/notion), the endpoints a readout page uses,
checked against Notion's API reference (developers.notion.com/reference): `Authorization: Bearer`, a
`Notion-Version` header, and the request bodies' shapes:

- `GET /v1/blocks/{id}/children` (page_size <= 100, start_cursor): a paginated list of the block's children;
- `PATCH /v1/blocks/{id}/children` `{"children": [...]}`: at most 100 blocks, two levels of nesting;
- `DELETE /v1/blocks/{id}`: moves a block to the trash;
- `POST /v1/pages` `{"parent": {"page_id"}, "properties": {"title": {"title": [rich text]}}}`;
- `PATCH /v1/pages/{id}` `{"properties": {"title": ...}}`;
- `POST /v1/file_uploads` `{"mode": "single_part", "filename", "content_type"}` (the other modes are not played
  here: validation_error): a File Upload object `{"object": "file_upload", "id", "status": "pending", ...}`;
- `POST /v1/file_uploads/{id}/send`, multipart/form-data with a `file` part (<= 20 MB; its bytes must be of the
  upload's content type: a PNG starts with PNG's signature): the object with `"status": "uploaded"`; an unknown
  id answers object_not_found (404), an upload already sent validation_error (400);
- `GET /v1/file_uploads/{id}`: the File Upload object.

An `image` block is `{"type": "external", "external": {"url"}}` or `{"type": "file_upload", "file_upload":
{"id"}}`; the latter must name an `uploaded` file upload (else validation_error), and reads back as Notion
answers it, `{"type": "file", "file": {"url", "expiry_time"}}`, the URL serving the uploaded bytes
(`GET /_mock/notion/files/{id}`) so tests can decode the image.

Blocks must be of a known type with the object under the type's key; rich text items are
`{"type": "text", "text": {"content": <= 2000 chars}}`; a table's rows have `table_width` cells. Errors are
Notion's error objects (`unauthorized` 401, `object_not_found` 404 for pages not shared with the
integration, `validation_error` 400). Pages and blocks are kept (`GET /_mock/notion/pages`) so tests
read the page back. The switch `notion_read_only` answers `restricted_resource` (403) on every write,
`notion_append_forbidden` only on block appends (a page created, its content refused).
"""

from __future__ import annotations

import itertools
import re
import uuid
from typing import Any

from mock_apis.llm import take_switch
from mock_apis.server import MockState, Request, Response, Router

TOKEN = "ntn_mock_notion_token"
PARENT_PAGE_ID = "1f2e3d4c-0000-4000-8000-000000000001"
VERSIONS = ("2022-06-28", "2025-09-03")
MAX_CHILDREN = 100
MAX_TEXT = 2000
RICH_TEXT_BLOCKS = {"paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item", "numbered_list_item",
                    "callout", "quote", "toggle"}
OTHER_BLOCKS = {"divider", "table", "table_row", "image", "child_page"}


MAX_SINGLE_PART = 20 * 1024 * 1024  # Notion's limit for a single-part upload
SIGNATURES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff", "image/gif": b"GIF8"}


class Invalid(ValueError):
    pass


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, str | None, bytes]]:
    """The parts of a multipart/form-data body by field name: (filename, content type, bytes)."""
    match = re.match(r'multipart/form-data;.*\bboundary="?([^";]+)"?', content_type, re.IGNORECASE)
    if not match:
        raise Invalid("Content-Type should be multipart/form-data with a boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise Invalid("the multipart/form-data body is not terminated by its boundary")
    parts: dict[str, tuple[str | None, str | None, bytes]] = {}
    for chunk in chunks[1:-1]:
        head, sep, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep or not data.endswith(b"\r\n"):
            raise Invalid("a multipart/form-data part lacks its headers or its closing line break")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in head.decode("utf-8", "replace").split("\r\n"))}
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if not disposition.startswith("form-data") or not name:
            raise Invalid("a multipart/form-data part lacks Content-Disposition: form-data; name=...")
        parts[name.group(1)] = (filename.group(1) if filename else None, headers.get("content-type"), data[:-2])
    return parts


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"object": "error", "status": status, "code": code, "message": message})


def _rich_text(value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise Invalid(f"{where} should be an array")
    for i, item in enumerate(value):
        if not isinstance(item, dict) or item.get("type", "text") != "text" or not isinstance(item.get("text"), dict):
            raise Invalid(f"{where}[{i}] should be a text rich text object")
        content = item["text"].get("content")
        if not isinstance(content, str) or len(content) > MAX_TEXT:
            raise Invalid(f"{where}[{i}].text.content.length should be ≤ `{MAX_TEXT}`, instead was `{len(str(content))}`.")


def _block(block: Any, where: str, depth: int) -> None:
    if not isinstance(block, dict):
        raise Invalid(f"{where} should be an object")
    kind = block.get("type")
    if kind not in RICH_TEXT_BLOCKS | OTHER_BLOCKS or kind == "child_page" or not isinstance(block.get(kind), dict):
        raise Invalid(f"{where}.type should be a known block type with `{kind}` as its body")
    body = block[kind]
    if kind in RICH_TEXT_BLOCKS:
        _rich_text(body.get("rich_text"), f"{where}.{kind}.rich_text")
    if kind == "image":
        source = body.get("type")
        target = body.get(source) if isinstance(source, str) else None
        if source not in ("external", "file_upload") or not isinstance(target, dict):
            raise Invalid(f"{where}.image.type should be `external` or `file_upload`, with its object under that key")
        if source == "external" and not isinstance(target.get("url"), str):
            raise Invalid(f"{where}.image.external.url should be defined")
        if source == "file_upload" and not isinstance(target.get("id"), str):
            raise Invalid(f"{where}.image.file_upload.id should be defined")
        if "caption" in body:
            _rich_text(body["caption"], f"{where}.image.caption")
    if kind == "table":
        width = body.get("table_width")
        rows = body.get("children")
        if not isinstance(width, int) or not isinstance(rows, list) or not rows:
            raise Invalid(f"{where}.table needs table_width and children (its rows)")
        for i, row in enumerate(rows):
            cells = (row.get("table_row") or {}).get("cells") if isinstance(row, dict) else None
            if not isinstance(row, dict) or row.get("type") != "table_row" or not isinstance(cells, list) or len(cells) != width:
                raise Invalid(f"{where}.table.children[{i}] should be a table_row of {width} cells")
            for j, cell in enumerate(cells):
                _rich_text(cell, f"{where}.table.children[{i}].table_row.cells[{j}]")
    elif isinstance(body.get("children"), list):
        if depth >= 2:
            raise Invalid(f"{where}.{kind}.children: at most two levels of nesting in one request")
        for i, child in enumerate(body["children"]):
            _block(child, f"{where}.{kind}.children[{i}]", depth + 1)


def _file_upload_ids(block: dict[str, Any]) -> list[str]:
    """The file uploads an (already validated) block and its children attach."""
    body = block[block["type"]]
    own = [body["file_upload"]["id"]] if block["type"] == "image" and body.get("type") == "file_upload" else []
    children = body.get("children") if block["type"] != "table" else None  # a table's children are its rows
    return own + [i for child in children or [] for i in _file_upload_ids(child)]


def register(router: Router, state: MockState) -> None:
    state.extra.setdefault("notion_blocks", {PARENT_PAGE_ID: {"id": PARENT_PAGE_ID, "type": "page", "title": "Readouts",
                                                              "children": [], "in_trash": False}})
    state.extra.setdefault("notion_file_uploads", {})
    ids = itertools.count(1)

    def new_id() -> str:
        return str(uuid.UUID(int=0x2F000000_0000_4000_8000_000000000000 + next(ids)))

    def check(req: Request) -> Response | None:
        state.count("notion:requests")
        if req.headers.get("authorization") != f"Bearer {TOKEN}":
            return _error(401, "unauthorized", "API token is invalid.")
        if req.headers.get("notion-version") not in VERSIONS:
            return _error(400, "missing_version", "Notion-Version header failed validation: it should be one of "
                                                  + ", ".join(VERSIONS))
        return None

    def blocks() -> dict[str, dict[str, Any]]:
        return state.extra["notion_blocks"]

    def found(block_id: str) -> dict[str, Any] | None:
        block = blocks().get(block_id)
        return block if block is not None and not block["in_trash"] else None

    def not_found(block_id: str) -> Response:
        return _error(404, "object_not_found", f"Could not find block with ID: {block_id}. Make sure the relevant "
                                               "pages and databases are shared with your integration.")

    def public(block: dict[str, Any]) -> dict[str, Any]:
        if block["type"] == "page":
            return {"object": "page", "id": block["id"], "in_trash": block["in_trash"],
                    "url": f"https://www.notion.so/{block['id'].replace('-', '')}",
                    "properties": {"title": {"id": "title", "type": "title",
                                             "title": [{"type": "text", "text": {"content": block["title"]},
                                                        "plain_text": block["title"]}]}}}
        return {"object": "block", "id": block["id"], "type": block["type"], block["type"]: block["body"],
                "has_children": bool(block["children"]), "in_trash": block["in_trash"]}

    def as_child(block: dict[str, Any]) -> dict[str, Any]:
        """A page among its parent's children is a child_page block."""
        if block["type"] != "page":
            return public(block)
        return {"object": "block", "id": block["id"], "type": "child_page", "has_children": bool(block["children"]),
                "child_page": {"title": block["title"]}, "in_trash": block["in_trash"]}

    def uploads() -> dict[str, dict[str, Any]]:
        return state.extra["notion_file_uploads"]

    def store(parent_id: str, raw: dict[str, Any], host: str = "") -> str:
        block_id = new_id()
        body = {k: v for k, v in raw[raw["type"]].items() if k != "children"}
        if raw["type"] == "image" and body.get("type") == "file_upload":
            # Notion answers an attached upload as a Notion-hosted file with a temporary URL
            upload = uploads()[body.pop("file_upload")["id"]]
            upload["attached"] = True
            body.update(type="file", file={"url": f"http://{host}/_mock/notion/files/{upload['id']}",
                                           "expiry_time": "2099-01-01T00:00:00.000Z"})
        blocks()[block_id] = {"id": block_id, "type": raw["type"], "body": body, "children": [], "in_trash": False}
        blocks()[parent_id]["children"].append(block_id)
        for child in raw[raw["type"]].get("children") or []:
            store(block_id, child, host)
        return block_id

    def list_children(req: Request, m: re.Match[str]) -> Response:
        if (bad := check(req)) is not None:
            return bad
        parent = found(m.group("id"))
        if parent is None:
            return not_found(m.group("id"))
        size = int(req.arg("page_size", "100") or 100)
        if not 1 <= size <= MAX_CHILDREN:
            return _error(400, "validation_error", "page_size should be ≤ `100`")
        live = [b for b in parent["children"] if not blocks()[b]["in_trash"]]
        start = int(req.arg("start_cursor", "0") or 0)
        page = live[start:start + size]
        more = start + size < len(live)
        return Response(body={"object": "list", "results": [as_child(blocks()[b]) for b in page],
                              "next_cursor": str(start + size) if more else None, "has_more": more,
                              "type": "block", "block": {}})

    def append_children(req: Request, m: re.Match[str]) -> Response:
        if (bad := check(req)) is not None:
            return bad
        parent = found(m.group("id"))
        if parent is None:
            return not_found(m.group("id"))
        if take_switch(state, "notion_read_only") or take_switch(state, "notion_append_forbidden"):
            return _error(403, "restricted_resource", "Insufficient permissions for this endpoint.")
        children = (req.json() or {}).get("children")
        try:
            if not isinstance(children, list) or not 1 <= len(children) <= MAX_CHILDREN:
                raise Invalid(f"body.children.length should be between 1 and {MAX_CHILDREN}")
            for i, child in enumerate(children):
                _block(child, f"body.children[{i}]", 1)
                for upload_id in _file_upload_ids(child):
                    upload = uploads().get(upload_id)
                    if upload is None or upload["status"] != "uploaded":
                        raise Invalid(f"body.children[{i}]: the file upload {upload_id} is "
                                      f"{'unknown' if upload is None else upload['status']}; only a file upload "
                                      "with status `uploaded` can be attached")
        except Invalid as exc:
            return _error(400, "validation_error", str(exc))
        with state.lock:
            made = [store(parent["id"], child, req.headers.get("host", "")) for child in children]
        return Response(body={"object": "list", "results": [public(blocks()[b]) for b in made],
                              "next_cursor": None, "has_more": False, "type": "block", "block": {}})

    def delete_block(req: Request, m: re.Match[str]) -> Response:
        if (bad := check(req)) is not None:
            return bad
        block = found(m.group("id"))
        if block is None:
            return not_found(m.group("id"))
        block["in_trash"] = True
        return Response(body={**public(block), "in_trash": True, "archived": True})

    def title_of(body: dict[str, Any]) -> str:
        title = ((body.get("properties") or {}).get("title") or {}).get("title")
        _rich_text(title, "body.properties.title.title")
        return "".join(t["text"]["content"] for t in title or [])

    def create_page(req: Request, _m: re.Match[str]) -> Response:
        if (bad := check(req)) is not None:
            return bad
        body = req.json() or {}
        parent_id = (body.get("parent") or {}).get("page_id")
        if not isinstance(parent_id, str) or set(body) - {"parent", "properties", "children", "icon", "cover"}:
            return _error(400, "validation_error", "body.parent.page_id should be defined (page parents only here)")
        if found(parent_id) is None:
            return not_found(parent_id)
        if take_switch(state, "notion_read_only"):
            return _error(403, "restricted_resource", "Insufficient permissions for this endpoint.")
        try:
            title = title_of(body)
        except Invalid as exc:
            return _error(400, "validation_error", str(exc))
        with state.lock:
            page_id = new_id()
            blocks()[page_id] = {"id": page_id, "type": "page", "title": title, "children": [], "in_trash": False}
            blocks()[parent_id]["children"].append(page_id)
            blocks()[page_id]["parent"] = parent_id
        return Response(body=public(blocks()[page_id]))

    def update_page(req: Request, m: re.Match[str]) -> Response:
        if (bad := check(req)) is not None:
            return bad
        page = found(m.group("id"))
        if page is None or page["type"] != "page":
            return not_found(m.group("id"))
        if take_switch(state, "notion_read_only"):
            return _error(403, "restricted_resource", "Insufficient permissions for this endpoint.")
        try:
            page["title"] = title_of(req.json() or {})
        except Invalid as exc:
            return _error(400, "validation_error", str(exc))
        return Response(body=public(page))

    def upload_object(upload: dict[str, Any], host: str) -> dict[str, Any]:
        return {"object": "file_upload", "id": upload["id"], "created_time": "2026-03-31T12:00:00.000Z",
                "last_edited_time": "2026-03-31T12:00:00.000Z", "expiry_time": "2026-03-31T13:00:00.000Z",
                "upload_url": f"http://{host}/notion/v1/file_uploads/{upload['id']}/send"
                              if upload["status"] == "pending" else None,
                "archived": False, "status": upload["status"], "filename": upload["filename"],
                "content_type": upload["content_type"], "content_length": upload["content_length"],
                "request_id": str(uuid.uuid4())}

    def create_upload(req: Request, _m: re.Match[str]) -> Response:
        if (bad := check(req)) is not None:
            return bad
        body = req.json() or {}
        mode = body.get("mode", "single_part")
        filename, content_type = body.get("filename"), body.get("content_type")
        if mode != "single_part":
            return _error(400, "validation_error", f"body.mode `{mode}`: this mock plays single_part uploads only")
        if filename is not None and (not isinstance(filename, str) or not filename or len(filename.encode()) > 900):
            return _error(400, "validation_error", "body.filename should be a string of at most 900 bytes")
        if content_type is not None and not isinstance(content_type, str):
            return _error(400, "validation_error", "body.content_type should be a string")
        if take_switch(state, "notion_read_only"):
            return _error(403, "restricted_resource", "Insufficient permissions for this endpoint.")
        with state.lock:
            upload_id = new_id()
            uploads()[upload_id] = {"id": upload_id, "status": "pending", "filename": filename,
                                    "content_type": content_type, "content_length": None, "data": b"",
                                    "attached": False}
        return Response(body=upload_object(uploads()[upload_id], req.headers.get("host", "")))

    def send_upload(req: Request, m: re.Match[str]) -> Response:
        if (bad := check(req)) is not None:
            return bad
        upload = uploads().get(m.group("id"))
        if upload is None:
            return _error(404, "object_not_found", f"Could not find file_upload with ID: {m.group('id')}.")
        if upload["status"] != "pending":
            return _error(400, "validation_error", f"File upload {upload['id']} is `{upload['status']}`, not "
                                                   "`pending`: its content was already sent.")
        try:
            parts = _multipart(req.headers.get("content-type", ""), req.body)
            if "file" not in parts:
                raise Invalid("body.file should be defined (a multipart/form-data part named `file`)")
            filename, part_type, data = parts["file"]
            if not data or len(data) > MAX_SINGLE_PART:
                raise Invalid(f"body.file should hold between 1 byte and {MAX_SINGLE_PART} bytes (single_part)")
            expected = upload["content_type"] or part_type
            if upload["content_type"] and part_type and part_type.split(";")[0].strip() != upload["content_type"]:
                raise Invalid(f"body.file's content type `{part_type}` does not match the file upload's "
                              f"content_type `{upload['content_type']}`")
            signature = SIGNATURES.get(expected or "")
            if signature is not None and not data.startswith(signature):
                raise Invalid(f"body.file is not a valid `{expected}` file")
        except Invalid as exc:
            return _error(400, "validation_error", str(exc))
        with state.lock:
            upload.update(status="uploaded", data=data, content_length=len(data),
                          filename=upload["filename"] or filename, content_type=expected)
        return Response(body=upload_object(upload, req.headers.get("host", "")))

    def retrieve_upload(req: Request, m: re.Match[str]) -> Response:
        if (bad := check(req)) is not None:
            return bad
        upload = uploads().get(m.group("id"))
        if upload is None:
            return _error(404, "object_not_found", f"Could not find file_upload with ID: {m.group('id')}.")
        return Response(body=upload_object(upload, req.headers.get("host", "")))

    def served_file(_req: Request, m: re.Match[str]) -> Response:
        """The bytes behind an attached file's URL (Notion's temporary file URLs need no token)."""
        upload = uploads().get(m.group("id"))
        if upload is None or upload["status"] != "uploaded":
            return Response(404, b"", {"Content-Type": "text/plain"})
        return Response(200, upload["data"], {"Content-Type": upload["content_type"] or "application/octet-stream"})

    def recorded(_req: Request, _m: re.Match[str]) -> Response:
        """Every live page under the parent with its blocks (tables with their rows), for the tests."""
        def tree(block_id: str) -> dict[str, Any]:
            block = blocks()[block_id]
            return {"id": block_id, "type": block["type"], "title": block.get("title"), "body": block.get("body"),
                    "children": [tree(c) for c in block["children"] if not blocks()[c]["in_trash"]]}
        return Response(body={"pages": [tree(c) for c in blocks()[PARENT_PAGE_ID]["children"]
                                        if not blocks()[c]["in_trash"]]})

    router.add("GET", r"/notion/v1/blocks/(?P<id>[^/]+)/children", list_children)
    router.add("PATCH", r"/notion/v1/blocks/(?P<id>[^/]+)/children", append_children)
    router.add("DELETE", r"/notion/v1/blocks/(?P<id>[^/]+)", delete_block)
    router.add("POST", r"/notion/v1/pages", create_page)
    router.add("PATCH", r"/notion/v1/pages/(?P<id>[^/]+)", update_page)
    router.add("POST", r"/notion/v1/file_uploads", create_upload)
    router.add("POST", r"/notion/v1/file_uploads/(?P<id>[^/]+)/send", send_upload)
    router.add("GET", r"/notion/v1/file_uploads/(?P<id>[^/]+)", retrieve_upload)
    router.add("GET", "/_mock/notion/pages", recorded)
    router.add("GET", r"/_mock/notion/files/(?P<id>[^/]+)", served_file)
