"""`emd demo` (what `make demo` runs): the whole product over the synthetic org on one laptop.

1. starts the mock APIs (GitHub, Jira, Slack, an OpenAI-compatible LLM) on loopback, in a child process;
2. writes the matching project config and points every variable at the mock (no paid API is called);
3. backfills the last 30 days, builds the marts, writes the Sprint Health cards, posts to the mock Slack;
4. serves Dagster's UI (3000), the dashboard (8501), the dbt docs (8080) and the metrics API (8000),
   printing their addresses.
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

DEMO_DIR = Path(".emd/demo")
GOOGLE_KEY = "google-service-account.json"  # the mock Google service account's key file (written by the mock)
INSTANCE_SETTINGS = Path(__file__).resolve().parents[1] / "dagster.yaml"
MOCK_PORT = 8765
PORTS = {"Dagster UI": 3000, "Dashboard": 8501, "dbt docs": 8080, "Metrics API": 8000}
# The demo shows the deterministic Sprint Health card: these are unset so that no model, paid or not, is called
# even when the user's shell has them.
LLM_VARIABLES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EMD_LLM_MODEL")


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def _wait_for_port(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.3)
    return False


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def demo_environment(root: Path, mock_url: str) -> dict[str, str]:
    """The variables the demo's pipeline, Dagster UI and dashboard share."""
    from mock_apis.server import mock_environment

    env = {k: v for k, v in mock_environment(mock_url).items() if k not in LLM_VARIABLES}
    return {
        **env,
        "EMD_CONFIG": str(root / DEMO_DIR / "config.yaml"),
        "DATABASE_URL": f"duckdb:///{root / 'data' / 'warehouse.duckdb'}",
        "DAGSTER_HOME": str(root / DEMO_DIR / "dagster_home"),
        "GOOGLE_APPLICATION_CREDENTIALS": str(root / DEMO_DIR / GOOGLE_KEY),  # the mock writes it (`emd readout --to slides`)
    }


def demo_api_token(root: Path) -> str:
    """EMD_API_TOKEN when set, else a token made for this demo, kept in .emd/demo/api-token (never printed)."""
    path = root / DEMO_DIR / "api-token"
    token = os.environ.get("EMD_API_TOKEN", "").strip() or secrets.token_urlsafe(24)
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return token


def install_instance_settings(dagster_home: Path) -> Path:
    """Copy the project's dagster.yaml (pool `warehouse`, run limits) into DAGSTER_HOME, where Dagster reads it."""
    target = dagster_home / "dagster.yaml"
    shutil.copyfile(INSTANCE_SETTINGS, target)
    return target


def _write_demo_readout(root: Path, today: date) -> None:
    """The demo org's executive readout of the current month (rule-based summary: no model is called)."""
    from emd.readout.content import ReadoutError
    from emd.readout.run import prepare, write

    period = today.strftime("%Y-%m")
    try:
        written = write(prepare(period, use_model=False), "pptx", root / DEMO_DIR / f"readout-{period}.pptx")
    except ReadoutError as exc:
        _say(f"    no executive readout: {exc}")
        return
    _say(f"    executive readout of {period}: {written.location}")


def run_demo(args: argparse.Namespace) -> int:
    from orchestration.pipeline import PipelineError, run_pipeline

    root = Path.cwd()
    (root / DEMO_DIR / "dagster_home").mkdir(parents=True, exist_ok=True)
    install_instance_settings(root / DEMO_DIR / "dagster_home")
    busy = [f"{name} ({port})" for name, port in {"mock API": MOCK_PORT, **PORTS}.items() if not _port_free(port)]
    if busy and not args.no_serve:
        _say(f"these ports are taken: {', '.join(busy)}. Stop whatever uses them (an earlier demo?) and retry.")
        return 1
    children: list[subprocess.Popen] = []

    def stop_children(*_: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan the children
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()

    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=29)
    try:
        _say(f"1/4 starting the mock APIs (synthetic org, seed {args.seed}) on 127.0.0.1:{MOCK_PORT}")
        children.append(subprocess.Popen(
            [_bin("emd"), "mock-api", "--port", str(MOCK_PORT), "--seed", str(args.seed), "--scale", args.scale,
             "--write-config", str(DEMO_DIR / "config.yaml"), "--fault-rate", str(args.fault_rate),
             "--write-google-key", str(DEMO_DIR / GOOGLE_KEY)],
            stdout=subprocess.DEVNULL,
        ))
        if not _wait_for_port(MOCK_PORT, 60):
            _say("the mock APIs did not start within 60 s")
            return 1
        env = demo_environment(root, f"http://127.0.0.1:{MOCK_PORT}")
        os.environ.update(env)
        for name in LLM_VARIABLES:
            os.environ.pop(name, None)
        _say(f"2/4 config at {env['EMD_CONFIG']}; warehouse {env['DATABASE_URL']}; Dagster home {env['DAGSTER_HOME']}")
        _say(f"3/4 backfilling {start}..{today} (30 days), building the marts, writing the cards, posting to Slack")
        began = time.monotonic()
        run_pipeline(start, today, log=lambda line: _say("    " + line))
        _say(f"    pipeline finished in {time.monotonic() - began:.0f}s")
        _write_demo_readout(root, today)
        if args.no_serve:
            return 0
        _say("4/4 serving")
        children.append(subprocess.Popen([_bin("dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1",
                                          "-p", str(PORTS["Dagster UI"])], env={**os.environ, **env},
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        children.append(subprocess.Popen([_bin("streamlit"), "run", "app/streamlit_app.py", "--server.headless",
                                          "true", "--server.port", str(PORTS["Dashboard"]),
                                          "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
                                         env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL))
        children.append(subprocess.Popen([_bin("emd"), "docs", "--port", str(PORTS["dbt docs"])],
                                         env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL))
        api_env = {**os.environ, **env, "EMD_API_TOKEN": demo_api_token(root)}
        children.append(subprocess.Popen([_bin("emd"), "api", "--port", str(PORTS["Metrics API"])],
                                         env=api_env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL))
        for name, port in PORTS.items():
            ok = _wait_for_port(port, 120)
            suffix = "/docs" if name == "Metrics API" else ""
            _say(f"    {name:<11} http://127.0.0.1:{port}{suffix}" + ("" if ok else "   (not answering yet)"))
        _say(f"    the API's bearer token (POST /slack/summaries) is in {root / DEMO_DIR / 'api-token'}")
        _say("Press Ctrl-C to stop the demo (the mock APIs, Dagster, the dashboard, the docs and the API).")
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(child.poll() is None for child in children):
            time.sleep(1)
        _say("a demo process exited; stopping the rest")
        return 1
    except KeyboardInterrupt:
        _say("stopping")
        return 0
    except PipelineError as exc:
        _say(f"the pipeline failed: {exc}")
        return 1
    finally:
        stop_children()
