"""The dashboard's entry point: `streamlit run app/streamlit_app.py`.

It resolves what to read (the published build, see emd/snapshot.py), draws the sidebar
filters every page shares, then runs the selected page from app/app_pages/.
"""

from __future__ import annotations

import streamlit as st

from app import queries, ui, view

st.set_page_config(page_title="Engineering metrics", page_icon=":material/monitoring:", layout="wide")

pages = st.navigation([
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("app_pages/delivery.py", title="Delivery", icon=":material/rocket_launch:"),
    st.Page("app_pages/flow.py", title="Flow", icon=":material/merge:"),
    st.Page("app_pages/planning.py", title="Planning", icon=":material/event_note:"),
    st.Page("app_pages/sprint_health.py", title="Sprint Health", icon=":material/health_and_safety:"),
    st.Page("app_pages/agreements.py", title="Working agreements", icon=":material/handshake:"),
    st.Page("app_pages/slos.py", title="SLOs", icon=":material/speed:", url_path="slos"),
    st.Page("app_pages/drilldown.py", title="Drilldown", icon=":material/table_rows:", url_path="drilldown"),
])

source = queries.open_source()
if isinstance(source, queries.EmptyWarehouse):
    ui.show_empty(source)
    st.stop()

view.remember(source, view.sidebar(source))
pages.run()
