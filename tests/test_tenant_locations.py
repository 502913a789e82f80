"""One Dagster code location per tenant: `emd workspace` lists one location per `<tenant>.yaml` of the EMD_CONFIG
folder; loading a location (orchestration/tenant_locations.py, as Dagster does: the attribute named in
workspace.yaml) gives Definitions whose resources read that tenant's config, warehouse and credentials; and
Dagster's own CLI loads both locations, each in a code server of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.fixtures.api import write_config

ROOT = Path(__file__).resolve().parents[1]
TOKENS = {"acme": "acme-token-not-a-secret", "gold": "gold-token-not-a-secret"}  # noqa: S105 - test values


@pytest.fixture
def two_tenants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder of acme.yaml (org acme) and gold.yaml (org gold), prefixed GitHub tokens, a plain one that with
    two tenants serves neither; the process environment is restored afterwards (loading a location activates
    its tenant in this process, as it does in the location's own code server)."""
    folder = tmp_path / "config"
    folder.mkdir()
    for tenant in TOKENS:
        path = write_config(folder / f"{tenant}.yaml")
        path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), "org": tenant}), encoding="utf-8")
    saved = dict(os.environ)
    monkeypatch.setenv("EMD_CONFIG", str(folder))
    monkeypatch.setenv("DATABASE_URL", f"duckdb:///{tmp_path}/{{tenant}}.duckdb")
    monkeypatch.setenv("GITHUB_TOKEN", "plain-token-not-a-secret")
    for tenant, token in TOKENS.items():
        monkeypatch.setenv(f"{tenant.upper()}_GITHUB_TOKEN", token)
    try:
        yield tmp_path
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_workspace_has_one_location_per_tenant(two_tenants: Path) -> None:
    from orchestration.tenant_locations import workspace_yaml

    entries = [e["python_module"] for e in yaml.safe_load(workspace_yaml())["load_from"]]
    assert [(e["module_name"], e["attribute"], e["location_name"]) for e in entries] == [
        ("orchestration.tenant_locations", "acme", "acme"), ("orchestration.tenant_locations", "gold", "gold")]


def test_a_single_config_keeps_its_one_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration.tenant_locations import workspace_yaml

    monkeypatch.setenv("EMD_CONFIG", str(write_config(tmp_path / "config.yaml")))
    assert yaml.safe_load(workspace_yaml()) == yaml.safe_load((ROOT / "workspace.yaml").read_text())


def test_each_location_loads_with_its_tenants_config_and_resources(two_tenants: Path) -> None:
    from dagster import Definitions

    import orchestration.tenant_locations as locations

    folder = dict(os.environ)
    for tenant, token in TOKENS.items():
        # Each location has a process of its own in Dagster: here, the environment of before for each.
        os.environ.clear()
        os.environ.update(folder)
        locations._loaded.clear()  # a new process for each location
        defs = getattr(locations, tenant)  # what Dagster does with `attribute: <tenant>`
        assert getattr(locations, tenant) is defs  # Dagster asks again in the same process
        assert isinstance(defs, Definitions)
        resources = defs.resources
        assert resources["project_config"].load().org == tenant
        assert resources["warehouse"].get().target.duckdb_path == two_tenants / f"{tenant}.duckdb"
        assert os.environ["GITHUB_TOKEN"] == token  # the prefixed credential, never the plain one
        assert defs.resolve_job_def("ingestion_job") is not None
    with pytest.raises(AttributeError, match="not a tenant"):
        locations.silver  # noqa: B018 - the attribute Dagster would load


@pytest.mark.timeout(600)
def test_dagster_loads_one_code_location_per_tenant(two_tenants: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    home = two_tenants / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    written = subprocess.run([sys.executable, "-m", "orchestration.cli", "workspace", "--out",
                              str(two_tenants / "workspace.yaml")], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
    assert written.returncode == 0, written.stderr
    validated = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate",
                                "--load-with-grpc", "-w", str(two_tenants / "workspace.yaml")],
                               cwd=ROOT, env={**env, "DAGSTER_HOME": str(home)}, capture_output=True, text=True,
                               timeout=540)
    output = validated.stdout + validated.stderr
    assert validated.returncode == 0, output[-3000:]
    for tenant in TOKENS:
        assert f"Validation successful for code location {tenant}" in output, output[-3000:]
