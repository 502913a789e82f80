"""The names of the code location's jobs, once: the modules that define the jobs, the sensors that
target them and the headless pipeline (orchestration/pipeline.py) all import them from here."""

INGESTION_JOB = "ingestion_job"
MARTS_JOB = "marts_job"
MARTS_FULL_REFRESH_JOB = "marts_full_refresh_job"
INSIGHTS_JOB = "insights_job"
