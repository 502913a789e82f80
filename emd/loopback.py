"""The loopback pages of the `emd connect` flows (GitHub's App manifest, Atlassian's OAuth 2.0): one way to
answer the browser."""

from __future__ import annotations

import html
from http.server import BaseHTTPRequestHandler


def text_page(text: str) -> str:
    """A minimal HTML page showing `text`, escaped (it can carry what the provider sent back)."""
    return f"<!doctype html><meta charset='utf-8'><p>{html.escape(text)}</p>"


def send_page(handler: BaseHTTPRequestHandler, status: int, page: str) -> None:
    """Answer the handler's request with `page` (HTML, UTF-8) and `status`."""
    data = page.encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
