"""A malformed DATABASE_URL gives one message that names DATABASE_URL and shows the URL with its password as
***; describe() never raises; psycopg's messages, which can quote the password, are redacted before they
reach an error (and so logs, Dagster, the CLI and the dashboard)."""

from __future__ import annotations

import pytest

from emd.settings import DatabaseTarget, SettingsError, database_target, redact, redact_url
from emd.warehouse import Warehouse, WarehouseError

PASSWORD_PARTS = ("s3cr", "t0p")  # every bad password below contains both; neither may appear in a message

MALFORMED = {
    # (the URL, what the message must say is wrong, the URL as the message must show it)
    "slash": ("postgresql://bob:s3cr/t0p@db.internal:5432/metrics", "'/' unencoded",
              "postgresql://bob:***@db.internal:5432/metrics"),
    "question mark": ("postgresql://bob:s3cr?t0p@db.internal:5432/metrics", "'?' unencoded",
                      "postgresql://bob:***@db.internal:5432/metrics"),
    "hash": ("postgresql://bob:s3cr#t0p@db.internal/metrics", "'#' unencoded",
             "postgresql://bob:***@db.internal/metrics"),
    "at sign": ("postgresql://bob:s3cr@t0p@db.internal/metrics", "'@' unencoded",
                "postgresql://bob:***@db.internal/metrics"),
    "percent": ("postgresql://bob:s3cr%t0p@db.internal/metrics", "'%' that starts no %XX escape",
                "postgresql://bob:***@db.internal/metrics"),
    "space": ("postgresql://bob:s3cr t0p@db.internal/metrics", "contains a space",
              "postgresql://bob:***@db.internal/metrics"),
    "bad port": ("postgresql://bob:s3crt0p@db.internal:54x2/metrics", "the port '54x2' is not a number",
                 "postgresql://bob:***@db.internal:54x2/metrics"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_database_url_names_the_variable_and_hides_the_password(case: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    url, problem, shown = MALFORMED[case]
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SettingsError) as raised:
        database_target()
    message = str(raised.value)
    assert message.startswith("DATABASE_URL is malformed: ")
    assert problem in message
    assert message.endswith(f"DATABASE_URL is {shown}")
    assert not any(part in message for part in PASSWORD_PARTS)


def test_well_formed_urls_still_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    for url, described in [
        ("postgresql://bob:s3cr%2Ft0p@db.internal:5432/metrics?sslmode=require", "postgresql://db.internal:5432/metrics"),
        ("postgresql://bob@db.internal/metrics?options=-csearch_path%3Demd", "postgresql://db.internal:5432/metrics"),
        ("postgres://db.internal:6543/x", "postgresql://db.internal:6543/x"),
    ]:
        monkeypatch.setenv("DATABASE_URL", url)
        assert database_target().describe() == described


def test_describe_never_raises() -> None:
    # Built directly (as a caller holding an unchecked URL could): urlparse's port raises on this one.
    target = DatabaseTarget("postgres", postgres_url="postgresql://bob:s3crt0p@db.internal:54x2/metrics")
    assert target.describe() == "postgresql://bob:***@db.internal:54x2/metrics"
    assert DatabaseTarget("postgres", postgres_url=None).describe() == "postgresql://localhost:5432"


def test_redaction_of_the_shapes_psycopg_and_libpq_echo() -> None:
    assert (redact_url('invalid dsn: missing "=" after "postgresql://bob:s3cr/t0p@h:5432/db" in connection info')
            == 'invalid dsn: missing "=" after "postgresql://bob:***@h:5432/db" in connection info')
    assert redact_url("host=h port=5432 password=s3crt0p user=bob") == "host=h port=5432 password=*** user=bob"
    assert redact_url("host=h password='s3cr t0p' user=bob") == "host=h password=*** user=bob"
    assert redact('unexpected spaces found in "s3cr t0p", use %20', ["s3cr t0p"]) == (
        'unexpected spaces found in "***", use %20')


def test_psycopg_error_reaches_us_redacted() -> None:
    # libpq answers this one with 'unexpected spaces found in "<the password>"': the password itself.
    target = DatabaseTarget("postgres", postgres_url="postgresql://bob:s3cr t0p@127.0.0.1:5432/postgres")
    with pytest.raises(WarehouseError) as raised, Warehouse(target).connect():
        pass
    message = str(raised.value)
    assert message.startswith("cannot connect to the Postgres warehouse postgresql://127.0.0.1:5432/postgres "
                              "(DATABASE_URL): ProgrammingError: ")
    assert '"***"' in message
    assert not any(part in message for part in PASSWORD_PARTS)
    # nothing further down the chain (Dagster shows causes and contexts) carries psycopg's message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_the_cli_prints_one_redacted_message(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                             config_path) -> None:
    from orchestration.cli import main

    monkeypatch.setenv("EMD_CONFIG", str(config_path))
    monkeypatch.setenv("DATABASE_URL", MALFORMED["slash"][0])
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["pipeline", "--start", "2026-03-30", "--end", "2026-03-30"]) == 1
    err = capsys.readouterr().err
    assert "DATABASE_URL" in err and "postgresql://bob:***@db.internal:5432/metrics" in err
    assert not any(part in err for part in PASSWORD_PARTS)
