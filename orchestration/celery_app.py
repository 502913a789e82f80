"""The Celery app the step workers run (EMD_EXECUTOR=celery, docs/scale-out.md):

    celery -A orchestration.celery_app worker -Q "${EMD_CELERY_QUEUE:-dagster}" -n worker1@%h --concurrency 2

It is dagster-celery's app (`dagster_celery.app`: the `execute_plan` task that runs one step of a run) with the
broker, result backend and queue the code location's executor uses (orchestration.definitions.run_executor),
read from the same environment variables, so a worker and the runs it serves cannot disagree and the broker's
password never lands in a file. A worker needs the code location's whole environment: DAGSTER_HOME (a shared
instance, e.g. on Postgres), DATABASE_URL, EMD_CONFIG and the sources' tokens.

Unlike the rest of the project this module reads the environment when imported: Celery imports it to find `app`.
"""

from __future__ import annotations

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from emd import settings


def build_app():  # noqa: ANN201 - celery.Celery
    executor = CeleryExecutor.for_cli(broker=settings.celery_broker_url(), backend=settings.celery_backend_url(),
                                      config_source={"task_default_queue": settings.celery_queue()})
    return make_app(executor.app_args())


app = build_app()
execute_plan = create_task(app)
