"""`emd api`: serve the metrics API with uvicorn."""

from __future__ import annotations


def serve(host: str = "127.0.0.1", port: int = 8000) -> int:
    import uvicorn

    from api.auth import start_sign_in

    start_sign_in()  # settings and the issuer's keys: a SettingsError naming the variable before serving

    # One process; DuckDB reads run in FastAPI's thread pool (DuckDB releases the GIL while it queries).
    uvicorn.run("api.main:app", host=host, port=port, log_level="info", access_log=False)
    return 0
