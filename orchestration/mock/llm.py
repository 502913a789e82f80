"""Mock llm endpoints (to be filled in by the owning issue)."""

from __future__ import annotations

from orchestration.mock.server import MockState, Router


def register(router: Router, state: MockState) -> None:
    return None
