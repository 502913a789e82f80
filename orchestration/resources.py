"""Resources every part of the code location shares: the project config and the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from dagster import ConfigurableResource
from pydantic import model_validator

from emd import settings
from emd.config import ProjectConfig, load_config
from emd.settings import parse_database_url
from emd.warehouse import Warehouse

# The concurrency pool of every asset that writes the warehouse. The shipped dagster.yaml limits pools to one
# step at a time (DuckDB allows one writing process); on Postgres raise it: `dagster instance concurrency set
# warehouse 4`.
WAREHOUSE_POOL = "warehouse"


class ProjectConfigResource(ConfigurableResource):
    """The project config file; unset `path` means EMD_CONFIG, else config.yaml (read when used)."""

    path: str | None = None

    def load(self) -> ProjectConfig:
        return load_config(Path(self.path) if self.path else settings.config_path())


class EnvOnlyCredentialsResource(ConfigurableResource):
    """A resource whose URL and credentials come from the environment only. The fields are not part of its
    config schema, so a run config (launchpad, run request) that sets one is refused at launch as an unexpected
    entry; setting one in code is refused here with a message that says where they come from."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_credentials(cls, data: Any) -> Any:
        names: dict[str, str] = getattr(cls, "ENV_ONLY", {})
        if isinstance(data, dict):
            given = sorted(set(data) & set(names))
            if given:
                where = ", ".join(f"{name} -> {names[name]}" for name in given)
                raise ValueError(f"{cls.__name__}: {', '.join(given)} cannot be set in code or run config: URLs "
                                 f"and tokens come from the environment only ({where})")
        return data


class WarehouseResource(EnvOnlyCredentialsResource):
    """DATABASE_URL (read when used): duckdb:///PATH, postgresql://..., or unset for the default file. From the
    environment only: a run config that could point the warehouse at another host would send it the
    organisation's data (and a Postgres URL's password)."""

    ENV_ONLY: ClassVar[dict[str, str]] = {"database_url": "DATABASE_URL"}

    def get(self) -> Warehouse:
        return Warehouse(parse_database_url(settings.env("DATABASE_URL")))
