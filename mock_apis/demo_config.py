"""The project config `emd mock-api --write-config` writes for the synthetic org: its teams and repos, the
demo's working agreements, Copilot's usage reports and two SLOs (an OpenSLO file over the mock's
Prometheus-compatible API and an incident-based one), so every mart has rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mock_apis.org import SyntheticOrg, demo_working_agreements
from mock_apis.prometheus import demo_slo_files, demo_slos


def write_demo_config(org: SyntheticOrg, path: Path) -> dict[str, Any]:
    """Write the config to `path` and its SLO files to `slos/` beside it (slos.files are relative to the
    config's folder); returns the config."""
    config = org.config()
    config["working_agreements"] = demo_working_agreements(list(config["teams"]))
    config["ai"] = {"copilot": True}  # the mock serves Copilot's usage reports: the demo's /ai page uses them
    config["slos"] = demo_slos(org)
    folder = path.parent / "slos"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in demo_slo_files(org).items():
        (folder / name).write_text(text, encoding="utf-8")
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return config
