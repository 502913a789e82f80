"""The core every surface shares: settings, config, warehouse, snapshot, HTTP, logs (no Dagster, Streamlit or FastAPI)."""
