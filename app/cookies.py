"""`Secure` on every cookie the dashboard sets when its public URL (config `dashboard.url`) is https.

Streamlit signs users in with cookies it sets itself: `_streamlit_user` and `_streamlit_user_tokens` (HttpOnly,
SameSite=Lax, never Secure: Streamlit leaves it out on purpose, web/server/starlette/starlette_auth_routes.py),
the Authlib session cookie that carries the sign-in's state (Secure only when Streamlit itself serves TLS,
`server.sslCertFile`) and `_streamlit_xsrf`. Behind a TLS proxy Streamlit serves plain HTTP, so none would be
Secure and a browser would send them over http:// too. This ASGI middleware, given to Streamlit's own `st.App`
(app/asgi.py), adds `Secure` to each `Set-Cookie` of an https deployment; it changes nothing else (HttpOnly
stays as Streamlit sets it: on its sign-in and session cookies, off on the XSRF cookie its page script reads).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def add_secure(value: bytes) -> bytes:
    """A `Set-Cookie` value with the `Secure` attribute (once)."""
    attributes = [part.strip().lower() for part in value.split(b";")[1:]]
    return value if b"secure" in attributes else value + b"; Secure"


class SecureCookies:
    """Pure ASGI: `Secure` on every `Set-Cookie` when `secure` (the deployment's URL is https)."""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.secure:
            await self.app(scope, receive, send)
            return

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [(name, add_secure(value) if name.lower() == b"set-cookie" else value)
                                      for name, value in message.get("headers", [])]
            await send(message)

        await self.app(scope, receive, send_secure)
