"""Environment variables, read when asked for (never at import time).

Every error raised here names the variable to fix. Values that are secrets are never put in messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse


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


SLACK_API_DEFAULT = "https://slack.com/api/"


def slack_api_url(given: str | None = None) -> str:
    """`given` (a tenant's prefixed SLACK_API_URL), else SLACK_API_URL, else Slack's own; ending in `/`."""
    url = given or env("SLACK_API_URL", SLACK_API_DEFAULT) or SLACK_API_DEFAULT
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
        """Human-readable, password-free; never raises (it is what error messages show)."""
        if self.kind == "duckdb":
            return f"duckdb:{self.duckdb_path}"
        try:
            parsed = urlparse(self.postgres_url or "")
            return f"postgresql://{parsed.hostname or 'localhost'}:{parsed.port or 5432}{parsed.path}"
        except ValueError:  # a bad port: show the URL as given, without its password
            return redact_url(self.postgres_url or "")


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
        check_postgres_url(url)
        return DatabaseTarget("postgres", postgres_url=url.replace("postgresql+psycopg://", "postgresql://", 1))
    raise SettingsError(
        "DATABASE_URL must start with duckdb:/// or postgresql:// "
        f"(got a value starting with {url.split(':', 1)[0]!r})"
    )


def database_target() -> DatabaseTarget:
    return parse_database_url(env("DATABASE_URL"))


# ----------------------------------------------------------------------------------------------------------
# Secrets out of messages. A URL's password is replaced by *** (`postgresql://bob:***@db:5432/x`), also when
# the URL is malformed (an unencoded `/`, `?`, `#` or `@` in the password: everything up to the last `@`).

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/?#@\"']*:)[^\s\"']*@")
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpass(?:word)?\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&'\"]+)", re.IGNORECASE)
_ENCODE_HINT = ("percent-encode them in DATABASE_URL (/ as %2F, ? as %3F, # as %23, % as %25, @ as %40, "
                ": as %3A), e.g. python3 -c \"import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], "
                "safe=''))\" 'the password'")


def redact_url(text: str) -> str:
    """`text` with the password of every URL in it and every `password=...` keyword replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + "***@", text)
    return _KEYWORD_PASSWORD.sub(lambda m: m.group("head") + "***", text)


def database_url_secrets(url: str | None = None) -> list[str]:
    """The password of DATABASE_URL (as written and percent-decoded), for redacting messages that quote it
    in some other shape (psycopg echoes the DSN it was given)."""
    url = env("DATABASE_URL") if url is None else url
    if not url or "://" not in url:
        return []
    rest = url.split("://", 1)[1]
    userinfo = rest[: rest.rfind("@")] if "@" in rest else ""
    if ":" not in userinfo:
        return []
    password = userinfo.split(":", 1)[1]
    return [p for p in dict.fromkeys([password, unquote(password)]) if len(p) >= 3]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` safe for logs, Dagster, the CLI and the dashboard: URL passwords, `password=` keywords and the
    given secrets (default: DATABASE_URL's password) replaced by ***."""
    out = redact_url(str(text))
    for secret in sorted(set(secrets) or set(database_url_secrets()), key=len, reverse=True):
        if secret:
            out = out.replace(secret, "***")
    return out


def check_postgres_url(url: str) -> None:
    """One clear SettingsError, naming DATABASE_URL and showing it without its password, for a URL that
    libpq would misread: unencoded `/ ? # @ %` in the user name or password, or a port that is no number."""
    shown = redact(url, database_url_secrets(url))
    rest = url.split("://", 1)[1]
    problem = None
    if "@" in rest:
        userinfo = rest[: rest.rfind("@")]
        specials = sorted({c for c in userinfo if c in "/?#@"})
        if specials:
            problem = (f"the user name or password contains {', '.join(repr(c) for c in specials)} unencoded, "
                       f"so the host would be read from inside the password; {_ENCODE_HINT}")
        elif any(c.isspace() for c in userinfo):
            problem = f"the user name or password contains a space; {_ENCODE_HINT} (a space as %20)"
        elif re.search(r"%(?![0-9A-Fa-f]{2})", userinfo):
            problem = f"the user name or password contains a '%' that starts no %XX escape; {_ENCODE_HINT}"
    if problem is None:
        try:
            urlparse(url).port  # noqa: B018 - raises ValueError for a port that is no number 0..65535
        except ValueError:
            port = rest[rest.rfind("@") + 1:].split("/", 1)[0].split("?", 1)[0].rsplit(":", 1)[-1]
            problem = f"the port {port!r} is not a number from 1 to 65535 (e.g. postgresql://user@host:5432/db)"
    if problem:
        raise SettingsError(f"DATABASE_URL is malformed: {problem}. DATABASE_URL is {shown}")


# Where a run's steps execute (docs/scale-out.md): in the run's own process (the default), or as Celery tasks on
# `celery -A orchestration.celery_app worker` processes over a broker (dagster-celery).
EXECUTOR_ENV = "EMD_EXECUTOR"
EXECUTORS = ("in_process", "celery")
CELERY_BROKER_ENV = "EMD_CELERY_BROKER_URL"
CELERY_BACKEND_ENV = "EMD_CELERY_BACKEND_URL"
CELERY_QUEUE_ENV = "EMD_CELERY_QUEUE"
CELERY_BROKER_SCHEMES = ("amqp", "amqps", "pyamqp", "redis", "rediss", "sqs")
DEFAULT_CELERY_BACKEND = "rpc://"
DEFAULT_CELERY_QUEUE = "dagster"


def executor_name() -> str:
    """`in_process` (unset) or `celery`, from EMD_EXECUTOR."""
    value = (env(EXECUTOR_ENV) or "in_process").lower().replace("-", "_")
    if value not in EXECUTORS:
        raise SettingsError(f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTORS)} (or unset: in_process); "
                            f"got {value!r}")
    return value


def celery_broker_url() -> str:
    """EMD_CELERY_BROKER_URL: the broker the Celery workers listen on (e.g. amqp://user:pass@rabbitmq:5672//).
    It may hold a password, so no message here shows it."""
    url = env(CELERY_BROKER_ENV)
    if url is None:
        raise SettingsError(f"{CELERY_BROKER_ENV} is not set: with {EXECUTOR_ENV}=celery it names the broker the "
                            "Celery workers listen on, e.g. amqp://guest:guest@127.0.0.1:5672// (docs/scale-out.md)")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in CELERY_BROKER_SCHEMES:
        raise SettingsError(f"{CELERY_BROKER_ENV} must be a broker URL starting with one of "
                            f"{', '.join(s + '://' for s in CELERY_BROKER_SCHEMES)}; its scheme is {scheme or 'missing'!r}")
    return url


def celery_backend_url() -> str:
    """EMD_CELERY_BACKEND_URL: where the workers send step results back (default rpc://, over the broker)."""
    return env(CELERY_BACKEND_ENV) or DEFAULT_CELERY_BACKEND


def celery_queue() -> str:
    """EMD_CELERY_QUEUE: the queue runs send their steps to and the workers read (default `dagster`)."""
    queue = env(CELERY_QUEUE_ENV) or DEFAULT_CELERY_QUEUE
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,200}", queue):
        raise SettingsError(f"{CELERY_QUEUE_ENV} must be a queue name of letters, digits and _ . : -; got {queue!r}")
    return queue
