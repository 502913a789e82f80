"""Resources every part of the code location shares: the project config and the warehouse."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from emd import settings
from emd.config import ProjectConfig, load_config
from emd.settings import parse_database_url
from emd.warehouse import Warehouse


class ProjectConfigResource(ConfigurableResource):
    """The project config file; unset `path` means EMD_CONFIG, else config.yaml (read when used)."""

    path: str | None = None

    def load(self) -> ProjectConfig:
        return load_config(Path(self.path) if self.path else settings.config_path())


class WarehouseResource(ConfigurableResource):
    """Unset `database_url` means DATABASE_URL (read when used): duckdb:///PATH, postgresql://..., or the default file."""

    database_url: str | None = None

    def get(self) -> Warehouse:
        return Warehouse(parse_database_url(self.database_url or settings.env("DATABASE_URL")))
