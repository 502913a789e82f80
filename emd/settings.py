"""Environment variables, read when asked for (never at import time).

Every error raised here names the variable to fix. Values that are secrets are never put in messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse


class SettingsError(RuntimeError):
    """A missing or malformed environment variable; the message names it."""


DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def github_api_url() -> str:
    return (env("GITHUB_API_URL", "https://api.github.com") or "").rstrip("/")


def github_graphql_url(api_url: str) -> str:
    """DESIGN.md: api.github.com -> /graphql; GHES `/api/v3` -> same host `/api/graphql`; else `{url}/graphql`."""
    api_url = api_url.rstrip("/")
    parsed = urlparse(api_url)
    if parsed.netloc == "api.github.com":
        return "https://api.github.com/graphql"
    if api_url.endswith("/api/v3"):
        return api_url[: -len("/api/v3")] + "/api/graphql"
    return api_url + "/graphql"


def slack_api_url() -> str:
    url = env("SLACK_API_URL", "https://slack.com/api/") or "https://slack.com/api/"
    return url if url.endswith("/") else url + "/"


def config_path() -> Path:
    return Path(env("EMD_CONFIG", "config.yaml") or "config.yaml")


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the warehouse lives. `kind` is `duckdb` or `postgres`."""

    kind: str
    duckdb_path: Path | None = None
    postgres_url: str | None = None

    def describe(self) -> str:
        """Human-readable, password-free."""
        if self.kind == "duckdb":
            return f"duckdb:{self.duckdb_path}"
        parsed = urlparse(self.postgres_url or "")
        return f"postgresql://{parsed.hostname or 'localhost'}:{parsed.port or 5432}{parsed.path}"


def parse_database_url(url: str | None) -> DatabaseTarget:
    """DESIGN.md: unset -> data/warehouse.duckdb; duckdb:///PATH (relative) or duckdb:////abs; postgresql://..."""
    if url is None or url.strip() == "":
        return DatabaseTarget("duckdb", duckdb_path=Path(DEFAULT_DUCKDB_PATH))
    url = url.strip()
    if url.startswith("duckdb:///"):
        path = url[len("duckdb:///") :]
        if not path:
            raise SettingsError("DATABASE_URL=duckdb:/// names no file: use duckdb:///data/warehouse.duckdb")
        return DatabaseTarget("duckdb", duckdb_path=Path(path))
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return DatabaseTarget("postgres", postgres_url=url.replace("postgresql+psycopg://", "postgresql://", 1))
    raise SettingsError(
        "DATABASE_URL must start with duckdb:/// or postgresql:// "
        f"(got a value starting with {url.split(':', 1)[0]!r})"
    )


def database_target() -> DatabaseTarget:
    return parse_database_url(env("DATABASE_URL"))
