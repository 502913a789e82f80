"""Safe defaults and tenants at the command line: `emd api`/`emd dashboard` refuse a non-loopback host without
sign-in, the `access:` config names the key it cannot use, and `emd pipeline` with a folder of tenants reports
every tenant's missing variables (named with their prefix) before any tenant starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emd.config import ConfigError, load_config
from tests.fixtures.api import write_config


def emd(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EMD_", "DATABASE_URL", "GITHUB_", "JIRA_", "GOLD_", "ACME_"))}
    return {**env, **extra}


@pytest.mark.parametrize("command", ["api", "dashboard"])
def test_a_public_host_without_sign_in_is_refused(command: str, tmp_path: Path) -> None:
    refused = emd(command, "--host", "0.0.0.0", "--port", "1", env=clean_env(), cwd=tmp_path)  # noqa: S104
    assert refused.returncode == 2
    assert "without sign-in" in refused.stderr and "EMD_OIDC_ISSUER" in refused.stderr
    assert "--allow-unauthenticated" in refused.stderr


def test_access_config_names_the_key_to_fix(tmp_path: Path) -> None:
    path = write_config(tmp_path / "config.yaml")
    config = yaml.safe_load(path.read_text())
    config["access"] = {"teams": {"eng-platform": ["platform", "nosuchteam"]}}
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=r"access\.teams\.eng-platform.*nosuchteam"):
        load_config(path)
    config["access"] = {"admins": ["emd-admins"], "teams": {"eng-web": ["web"]}}
    path.write_text(yaml.safe_dump(config))
    access = load_config(path).access
    assert (access.groups_claim, access.admins, access.teams) == ("groups", ("emd-admins",), {"eng-web": ("web",)})


def test_every_tenants_missing_variables_are_reported_before_any_starts(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    for tenant in ("acme", "gold"):
        write_config(folder / f"{tenant}.yaml")
    env = clean_env(EMD_CONFIG=str(folder), DATABASE_URL=f"duckdb:///{tmp_path}/{{tenant}}.duckdb",
                    ACME_GITHUB_TOKEN="acme-token-not-a-secret")
    failed = emd("pipeline", "--start", "2026-03-01", "--end", "2026-03-02", env=env, cwd=tmp_path)
    assert failed.returncode == 1
    assert "gold: set GOLD_GITHUB_TOKEN" in failed.stderr and "acme:" not in failed.stderr
    assert "tenant acme" not in failed.stdout  # nothing started
    shared = emd("pipeline", "--start", "2026-03-01", "--end", "2026-03-02",
                 env={**env, "DATABASE_URL": f"duckdb:///{tmp_path}/one.duckdb"}, cwd=tmp_path)
    assert shared.returncode == 1 and "DATABASE_URL must contain {tenant}" in shared.stderr
    unknown = emd("pipeline", "--tenant", "silver", env=env, cwd=tmp_path)
    assert unknown.returncode == 1 and "unknown tenant 'silver'" in unknown.stderr


def test_a_tenant_runs_with_its_own_config_database_and_credentials(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from emd import settings, tenants

    folder = tmp_path / "config"
    folder.mkdir()
    for tenant in ("acme", "gold"):
        write_config(folder / f"{tenant}.yaml")
    for name in tenants.TENANT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMD_CONFIG", str(folder))
    monkeypatch.setenv("DATABASE_URL", "duckdb:///data/{tenant}.duckdb")
    monkeypatch.setenv("GITHUB_TOKEN", "plain-token-not-a-secret")  # serves no tenant of a folder of two
    monkeypatch.setenv("GOLD_GITHUB_TOKEN", "gold-token-not-a-secret")
    monkeypatch.setenv("ACME_JIRA_BASE_URL", "http://127.0.0.1:1/acme-jira")
    assert tenants.names() == ("acme", "gold")
    assert tenants.tenant_env("acme", "GITHUB_TOKEN") is None
    monkeypatch.setenv(tenants.ACTIVE_ENV, "")  # restored after the test: activate sets it
    tenants.activate("gold")
    assert tenants.active() == "gold"
    assert settings.config_path() == folder / "gold.yaml"
    assert settings.database_target().duckdb_path == Path("data/gold.duckdb")
    assert os.environ["GITHUB_TOKEN"] == "gold-token-not-a-secret"
    assert "JIRA_BASE_URL" not in os.environ  # acme's stays acme's


def test_the_dashboard_names_an_unreachable_issuer_or_a_missing_secret(tmp_path: Path) -> None:
    from tests.fixtures.browser import free_port

    base = clean_env(EMD_CONFIG=str(write_config(tmp_path / "config.yaml")),
                     EMD_OIDC_ISSUER=f"http://127.0.0.1:{free_port()}", EMD_OIDC_CLIENT_ID="emd",
                     EMD_OIDC_CLIENT_SECRET="client-secret-not-a-secret", EMD_COOKIE_SECRET="x" * 32)
    unreachable = emd("dashboard", "--port", str(free_port()), env=base, cwd=tmp_path)
    assert unreachable.returncode == 1 and "EMD_OIDC_ISSUER" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    no_secret = emd("dashboard", "--port", str(free_port()),
                    env={k: v for k, v in base.items() if k != "EMD_COOKIE_SECRET"}, cwd=tmp_path)
    assert no_secret.returncode == 1 and "EMD_COOKIE_SECRET" in no_secret.stderr


def test_a_readout_is_one_tenants(tmp_path: Path) -> None:
    """Two tenants: acme's warehouse is tests/fixtures/marts.py's (8 deployments over 2026-03-01..15, 3 failed:
    8/15 = 0.53/day, 37.5%); gold's lacks d4 (7/15 = 0.47/day, 2/7 = 28.6%). A readout reads only its tenant's."""
    import duckdb
    from pptx import Presentation

    from emd.settings import parse_database_url
    from emd.snapshot import publish_build
    from emd.warehouse import Warehouse
    from tests.fixtures.marts import PUBLISHED_AT, build_duckdb_warehouse

    folder = tmp_path / "config"
    folder.mkdir()
    for tenant in ("acme", "gold"):
        write_config(folder / f"{tenant}.yaml")
        build_duckdb_warehouse(tmp_path / f"{tenant}.duckdb")
    with duckdb.connect(str(tmp_path / "gold.duckdb")) as conn:
        conn.execute("delete from fct_deployments where deployment_id = 'd4'")
    for tenant in ("acme", "gold"):
        publish_build(Warehouse(parse_database_url(f"duckdb:///{tmp_path / tenant}.duckdb")), now=PUBLISHED_AT)
    env = clean_env(EMD_CONFIG=str(folder), DATABASE_URL=f"duckdb:///{tmp_path}/{{tenant}}.duckdb")
    env = {k: v for k, v in env.items() if not k.startswith("OPENAI_")}

    ambiguous = emd("readout", "--period", "2026-03", "--out", str(tmp_path / "x.pptx"), env=env, cwd=tmp_path)
    assert ambiguous.returncode == 2 and "--tenant is required" in ambiguous.stderr and "acme, gold" in ambiguous.stderr
    assert not (tmp_path / "x.pptx").exists()
    for tenant, per_day, failure_rate in (("acme", "0.53/day", "37.5%"), ("gold", "0.47/day", "28.6%")):
        out = tmp_path / f"{tenant}.pptx"
        written = emd("readout", "--period", "2026-03", "--tenant", tenant, "--out", str(out), env=env, cwd=tmp_path)
        assert written.returncode == 0, written.stderr
        delivery = next(s for s in Presentation(str(out)).slides
                        if s.shapes.title is not None and s.shapes.title.text == "Delivery (DORA)")
        rows = {r.cells[0].text: r.cells[1].text
                for r in next(shape.table for shape in delivery.shapes if shape.has_table).rows}
        assert (rows["Deployment frequency"], rows["Change failure rate"]) == (per_day, failure_rate), tenant
