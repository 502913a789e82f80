"""Mock Notion API under `/notion/v1/` (NOTION_API_URL = {mock}/notion), the endpoints a readout page uses,
checked against Notion's API reference (developers.notion.com/reference): `Authorization: Bearer`, a
`Notion-Version` header, and the request bodies' shapes:

- `GET /v1/blocks/{id}/children` (page_size <= 100, start_cursor): a paginated list of the block's children;
- `PATCH /v1/blocks/{id}/children` `{"children": [...]}`: at most 100 blocks, two levels of nesting;
- `DELETE /v1/blocks/{id}`: moves a block to the trash;
- `POST /v1/pages` `{"parent": {"page_id"}, "properties": {"title": {"title": [rich text]}}}`;
- `PATCH /v1/pages/{id}` `{"properties": {"title": ...}}`.

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


class Invalid(ValueError):
    pass


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


def register(router: Router, state: MockState) -> None:
    state.extra.setdefault("notion_blocks", {PARENT_PAGE_ID: {"id": PARENT_PAGE_ID, "type": "page", "title": "Readouts",
                                                              "children": [], "in_trash": False}})
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

    def store(parent_id: str, raw: dict[str, Any]) -> str:
        block_id = new_id()
        body = {k: v for k, v in raw[raw["type"]].items() if k != "children"}
        blocks()[block_id] = {"id": block_id, "type": raw["type"], "body": body, "children": [], "in_trash": False}
        blocks()[parent_id]["children"].append(block_id)
        for child in raw[raw["type"]].get("children") or []:
            store(block_id, child)
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
        except Invalid as exc:
            return _error(400, "validation_error", str(exc))
        with state.lock:
            made = [store(parent["id"], child) for child in children]
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
    router.add("GET", "/_mock/notion/pages", recorded)
