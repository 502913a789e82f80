"""Tenants: several organisations in one deployment (DESIGN.md "Tenants").

`EMD_CONFIG` naming a folder makes each `<tenant>.yaml` in it one tenant's full config; a file (the default
`config.yaml`) is the single-tenant setup of before, whose tenant is None. For a tenant:
- its source and destination variables are read with its upper-case prefix (`GOLD_GITHUB_TOKEN`); the
  unprefixed ones serve only a folder of one tenant (`tenant_env`);
- `DATABASE_URL` carries `{tenant}` so its data lives apart (`database_url`); with several tenants and no
  `{tenant}` in it, `check_tenants` stops naming DATABASE_URL;
- `activate(tenant)` makes this process that tenant's (EMD_CONFIG, DATABASE_URL and the prefixed variables
  under their plain names), which is how `emd pipeline --tenant` and a tenant's Dagster code location run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Final

from emd import settings
from emd.settings import SettingsError

# The variables each tenant has its own of (everything else, e.g. EMD_OIDC_*, OPENAI_*, is shared).
TENANT_VARIABLES = (
    "GITHUB_TOKEN", "GITHUB_API_URL", "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_PRIVATE_KEY_FILE",
    "GITHUB_APP_INSTALLATION_ID", "JIRA_BASE_URL", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_OAUTH_CLIENT_ID",
    "JIRA_OAUTH_CLIENT_SECRET", "PAGERDUTY_API_TOKEN", "PAGERDUTY_API_URL", "PROMETHEUS_URL", "PROMETHEUS_TOKEN",
    "SLACK_BOT_TOKEN", "SLACK_CHANNEL_ID", "SLACK_API_URL", "GOOGLE_APPLICATION_CREDENTIALS",
    "EMD_SLIDES_TEMPLATE_ID", "EMD_DRIVE_FOLDER_ID", "GOOGLE_API_URL", "NOTION_TOKEN", "NOTION_PARENT_PAGE_ID",
    "NOTION_API_URL",
)
TENANT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class NoTenant:
    def __repr__(self) -> str:
        return "NO_TENANT"


NO_TENANT: Final = NoTenant()  # a token that names no configured tenant


def is_folder() -> bool:
    return settings.config_path().is_dir()


def names() -> tuple[str, ...]:
    """The configured tenants: the folder's `<tenant>.yaml` stems; () for a single config file."""
    folder = settings.config_path()
    if not folder.is_dir():
        return ()
    found = tuple(sorted(p.stem for p in folder.glob("*.yaml")))
    for name in found:
        if not TENANT_NAME_RE.match(name):
            raise SettingsError(f"EMD_CONFIG={folder}: {name}.yaml is not a tenant name (lower-case letters, "
                                "digits and _; it becomes the prefix of its variables and part of DATABASE_URL)")
    if not found:
        raise SettingsError(f"EMD_CONFIG={folder} is a folder without any <tenant>.yaml config")
    return found


def config_path(tenant: str | None) -> Path:
    path = settings.config_path()
    return path / f"{tenant}.yaml" if tenant is not None and path.is_dir() else path


def tenant_of_claims(claims: dict[str, Any], claim: str) -> str | None | NoTenant:
    """The tenant a signed-in user reaches: None with a single config file (no claim needed), else the one
    their token's `claim` names, or NO_TENANT."""
    known = names()
    if not known:
        return None
    value = claims.get(claim)
    return value if isinstance(value, str) and value in known else NO_TENANT


def tenant_env(tenant: str | None, name: str) -> str | None:
    """`{TENANT}_{name}`; the plain `name` serves a single config file or a folder of one tenant."""
    if tenant is not None:
        value = settings.env(f"{tenant.upper()}_{name}")
        if value is not None or len(names()) > 1:
            return value
    return settings.env(name)


def database_url(tenant: str | None) -> str | None:
    url = settings.env("DATABASE_URL")
    if tenant is None:
        return url
    if url is None:
        return f"duckdb:///data/{tenant}.duckdb"
    if "{tenant}" not in url:
        if len(names()) > 1:
            raise SettingsError("DATABASE_URL must contain {tenant} when EMD_CONFIG is a folder of several tenants, "
                                "so each tenant's data lives apart: e.g. duckdb:///data/{tenant}.duckdb, or a "
                                "Postgres URL with options=-csearch_path%3Demd_{tenant}")
        return url
    return url.replace("{tenant}", tenant)


def database_target(tenant: str | None) -> settings.DatabaseTarget:
    return settings.parse_database_url(database_url(tenant))


def check_tenants() -> None:
    """Before any tenant starts: every tenant's config loads, its DATABASE_URL resolves and its credentials are
    set; one SettingsError lists every tenant's problems, naming the variables."""
    from emd.config import ConfigError, load_config

    problems = []
    for tenant in names():
        prefix = tenant.upper()
        try:
            database_target(tenant)
            config = load_config(config_path(tenant))
        except (SettingsError, ConfigError) as exc:
            problems.append(f"{tenant}: {exc}")
            continue
        if tenant_env(tenant, "GITHUB_TOKEN") is None and tenant_env(tenant, "GITHUB_APP_ID") is None:
            problems.append(f"{tenant}: set {prefix}_GITHUB_TOKEN (or {prefix}_GITHUB_APP_ID with its key)")
        if config.jira_projects or config.jira_boards:
            missing = [f"{prefix}_{n}" for n in ("JIRA_BASE_URL",) if tenant_env(tenant, n) is None]
            if tenant_env(tenant, "JIRA_OAUTH_CLIENT_ID") is None:
                missing += [f"{prefix}_{n}" for n in ("JIRA_EMAIL", "JIRA_API_TOKEN") if tenant_env(tenant, n) is None]
            if missing:
                problems.append(f"{tenant}: set {', '.join(missing)} (its config lists Jira projects or boards)")
    if problems:
        raise SettingsError("; ".join(dict.fromkeys(problems)))


ACTIVE_ENV = "EMD_TENANT"  # set by `activate`: the tenant this process serves


def active() -> str | None:
    """The tenant this process was made (`activate`), or None (one tenant: today's setup)."""
    return os.environ.get(ACTIVE_ENV) or None


def activate(tenant: str) -> None:
    """Make this process the tenant's: its config, its DATABASE_URL, and its prefixed variables under their
    plain names (a plain variable it lacks a prefixed value for is removed, so no other tenant's leaks in)."""
    known = names()
    if tenant not in known:
        raise SettingsError(f"unknown tenant {tenant!r}: EMD_CONFIG={settings.config_path()} has "
                            f"{', '.join(known) or 'no tenant folder'}")
    values = {name: tenant_env(tenant, name) for name in TENANT_VARIABLES}
    url = database_url(tenant)
    os.environ[ACTIVE_ENV] = tenant
    os.environ["EMD_CONFIG"] = str(config_path(tenant))
    if url is not None:
        os.environ["DATABASE_URL"] = url
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
