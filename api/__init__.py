"""The metrics API (FastAPI): routes over emd.metrics, no SQL of its own. `emd api` serves `api.main:app`."""
