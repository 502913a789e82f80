"""The Celery app the step workers run (EMD_EXECUTOR=celery, docs/scale-out.md):

    celery -A orchestration.celery_app worker -Q "${EMD_CELERY_QUEUE:-dagster}" -n worker1@%h --concurrency 2

It is dagster-celery's app (`dagster_celery.app`: the `execute_plan` task that runs one step of a run) with the
broker, result backend and queue the code location's executor uses (orchestration.definitions.run_executor),
read from the same environment variables, so a worker and the runs it serves cannot disagree and the broker's
password never lands in a file. A worker needs the code location's whole environment: DAGSTER_HOME (a shared
instance, e.g. on Postgres), DATABASE_URL, EMD_CONFIG and the sources' tokens.

Importing this module reads nothing: Celery's `-A` looks up the module's `app`, which is built then (PEP 562).
"""

from __future__ import annotations

from typing import Any

_built: dict[str, Any] = {}


def build_app() -> Any:
    """dagster-celery's app over EMD_CELERY_BROKER_URL / _BACKEND_URL / _QUEUE, its step task registered."""
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    from emd import settings

    executor = CeleryExecutor.for_cli(broker=settings.celery_broker_url(), backend=settings.celery_backend_url(),
                                      config_source={"task_default_queue": settings.celery_queue()})
    app = make_app(executor.app_args())
    create_task(app)  # `execute_plan`: runs one step of a run
    # Imported once in the worker's main process (~10 s: Dagster, dagster-dbt, every asset module), so each process
    # it forks starts with it; otherwise every worker process pays that on its first step.
    import orchestration.definitions  # noqa: F401
    return app


def __getattr__(name: str) -> Any:
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if "app" not in _built:
        _built["app"] = build_app()
    return _built["app"]
