"""DESIGN.md's layering, read from the source: imports point down (app/ and api/ -> orchestration/ -> emd/), and
nothing imports api/ but the API itself (`emd api` names it to uvicorn as the string `api.main:app`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_packages(folder: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_only_the_api_imports_api() -> None:
    for folder in ("emd", "orchestration", "app", "mock_apis"):
        assert imported_packages(folder).get("api", set()) == set(), folder


def test_the_core_imports_no_dagster_streamlit_or_fastapi() -> None:
    core = imported_packages("emd")
    assert {name: core[name] for name in ("dagster", "streamlit", "fastapi", "orchestration", "app")
            if name in core} == {}
