"""`emd docs`: generate the dbt docs site (with the warehouse's catalog) and serve it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from emd.config import ConfigError, load_config
from emd.settings import database_target
from orchestration.defs.dbt.project import DBT_PROJECT_DIR, dbt_executable, dbt_target_env, dbt_vars, run_dbt

DOCS_WORK_DIR = DBT_PROJECT_DIR / "target" / "docs"


def generate_docs(work_dir: Path = DOCS_WORK_DIR) -> Path:
    """`dbt docs generate` against the warehouse DATABASE_URL names; returns the folder holding index.html."""
    target = database_target()
    try:
        variables = dbt_vars(load_config())
    except ConfigError as exc:
        print(f"emd docs: documenting with dbt_project.yml's default vars ({exc})", file=sys.stderr)
        variables = None
    result = run_dbt(["docs", "generate"], target, variables, work_dir=work_dir, check=False)
    if result.returncode != 0:
        # The warehouse may be busy (a DuckDB file another process is writing): document the project
        # without the catalog (column types, row counts) rather than serve nothing.
        print(f"emd docs: could not read the warehouse {target.describe()} for the catalog; "
              "generating the docs without it", file=sys.stderr)
        run_dbt(["docs", "generate", "--empty-catalog"], target, variables, work_dir=work_dir)
    return work_dir / "target"


def serve_docs(port: int = 8080, host: str = "127.0.0.1", serve: bool = True) -> int:
    site = generate_docs()
    print(f"emd docs: dbt docs generated in {site}")
    if not serve:
        return 0
    print(f"emd docs: serving the dbt docs on http://{host}:{port}", flush=True)
    env = dict(dbt_target_env(database_target()))
    cmd = [dbt_executable(), "docs", "serve", "--port", str(port), "--host", host, "--no-browser",
           "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(site)]
    # Become the dbt server (exec), so whoever started `emd docs` stops the server by stopping this process.
    os.chdir(DBT_PROJECT_DIR)
    os.execve(cmd[0], cmd, {**os.environ, **env})
    return 0  # not reached
