"""The dashboard as Streamlit's own ASGI app (`st.App`, served by `streamlit run app/asgi.py`, which is what
`emd dashboard` runs): app/streamlit_app.py, with the cookie middleware of app/cookies.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from app.cookies import SecureCookies
from app.server import public_url_is_https

app = st.App(Path(__file__).with_name("streamlit_app.py"),
             middleware=[Middleware(SecureCookies, secure=public_url_is_https())])
