"""Sign-in for the dashboard: with EMD_OIDC_ISSUER set, Streamlit's own `st.login` (OpenID Connect through
Authlib; `emd dashboard` writes its `[auth]` secrets from the environment, app/server.py) signs the user in,
the sidebar says who is signed in and offers to sign out, and the user's groups (the ID token's claim named
by the config's `access.groups_claim`) decide the teams every page shows (emd/auth.py).

Without EMD_OIDC_ISSUER nothing changes: the dashboard is the loopback setup of before, every team visible.
"""

from __future__ import annotations

import streamlit as st

from emd import tenants
from emd.auth import ANONYMOUS, Principal, oidc_settings, principal_from_claims
from emd.config import ConfigError, load_config
from emd.settings import SettingsError
from emd.text import markdown_escape


def signed_in() -> Principal:
    """The signed-in user, or a sign-in page and a stop. ANONYMOUS (every team) with sign-in off."""
    try:
        oidc = oidc_settings()
    except SettingsError as exc:
        st.error(str(exc))
        st.stop()
    if oidc is None:
        return ANONYMOUS
    if not st.user.is_logged_in:
        st.title("Engineering metrics")
        st.write("Sign in to see your teams' numbers.")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()
    claims = st.user.to_dict()
    tenant = tenants.tenant_of_claims(claims, oidc.tenant_claim)
    if tenant is tenants.NO_TENANT:
        _account_bar(str(claims.get("name") or claims.get("email") or claims.get("sub")))
        st.title("Engineering metrics")
        st.error("Your account names no organisation of this deployment, so there is nothing to show. Ask an "
                 "administrator to add the tenant claim to your account.")
        st.stop()
    try:
        access = load_config(tenants.config_path(tenant if isinstance(tenant, str) else None)).access
    except ConfigError as exc:
        st.error(str(exc))
        st.stop()
    user = principal_from_claims(claims, access, oidc.tenant_claim)
    user = Principal(subject=user.subject, name=user.name, groups=user.groups, teams=user.teams, admin=user.admin,
                     tenant=tenant if isinstance(tenant, str) else None)
    _account_bar(user.name or user.subject)
    return user


def _account_bar(name: str) -> None:
    bar = st.sidebar
    bar.caption(f"Signed in as **{markdown_escape(name)}**")
    bar.button("Sign out", on_click=st.logout, key="sign_out")


def deny(what: str) -> None:
    """The access message for a team or repo outside the user's scope (or unknown to them): no number."""
    st.title("No access")
    st.warning(f"You do not have access to this {what}. Open the page without it in the link to see the "
               "teams your groups grant.")
    st.stop()
