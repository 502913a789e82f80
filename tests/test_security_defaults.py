"""Defaults a security review accepts: the dashboard listens on loopback unless configured otherwise, and
requests carries the fix for CVE-2024-47081 (.netrc credentials sent to the wrong host), 2.32.4."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_dashboard_listens_on_loopback() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["address"] == "127.0.0.1"


def test_requests_has_the_cve_2024_47081_fix() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [spec] = [d for d in project["project"]["dependencies"] if re.match(r"requests\b", d)]
    minimum = re.search(r">=\s*([\d.]+)", spec)
    assert minimum is not None and _version(minimum.group(1)) >= (2, 32, 4)
    assert _version(version("requests")) >= (2, 32, 4)


def test_readme_says_how_to_expose_the_uis() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "### Exposing the dashboard and the Dagster UI" in readme
    assert "dagster dev -w workspace.yaml -h 127.0.0.1" in readme
