"""The `emd` command: `emd mock-api`, `emd pipeline`, `emd api`, `emd dashboard`, `emd docs`, `emd demo`,
`emd readout`, `emd cards`, `emd workspace`."""

from __future__ import annotations

import argparse
import ipaddress
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date of the form YYYY-MM-DD") from exc


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _mock_state(args: argparse.Namespace):
    from mock_apis.org import SyntheticOrg
    from mock_apis.server import FaultConfig, MockState

    org = SyntheticOrg(seed=args.seed, scale=args.scale, anchor=args.anchor or datetime.now(UTC).date(),
                       days=args.days)
    state = MockState(org=org, faults=FaultConfig(rate=args.fault_rate, seed=args.fault_seed),
                      jira_timezone=args.jira_timezone, github_rate_limit=args.rate_limit)
    if getattr(args, "huge_day", None) is not None:
        from mock_apis.huge_day import HugeDay

        if args.huge_day <= org.anchor:
            raise SystemExit(f"--huge-day {args.huge_day} must be after the org's last day ({org.anchor}, --anchor)")
        state.extra["huge_day"] = HugeDay(args.huge_day, pull_requests=args.huge_day_prs,
                                          jira_issues=args.huge_day_issues)
    return state


def cmd_mock_api(args: argparse.Namespace) -> int:
    from mock_apis.demo_config import write_demo_config
    from mock_apis.server import MockApi

    state = _mock_state(args)
    api = MockApi(state, args.host, args.port)
    if args.write_config:
        write_demo_config(state.org, Path(args.write_config))
    env = api.env()
    if args.write_google_key:  # the mock's service account key exists only in this process: written for clients
        from mock_apis.google import write_key_file

        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(write_key_file(Path(args.write_google_key), api.url).resolve())
    if args.write_env:
        Path(args.write_env).write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    print(f"mock-api: serving the synthetic org {state.org.org!r} ({state.org.scale}, seed {state.org.seed}, "
          f"{state.org.start}..{state.org.anchor}) on {api.url}", flush=True)
    for key, value in env.items():
        print(f"  {key}={value}", flush=True)
    try:
        api.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        api.server.server_close()
    return 0


def _each_tenant(args: argparse.Namespace) -> int | None:
    """With EMD_CONFIG a folder: `--tenant NAME` makes this process that tenant's; without it, every tenant runs
    in turn (a process each), once all their settings are checked. None: go on in this process."""
    from emd import tenants
    from emd.config import ConfigError
    from emd.settings import SettingsError

    try:
        known = tenants.names()
        if args.tenant is not None:
            if not known:
                print(f"emd {args.argv[0]}: --tenant {args.tenant} needs EMD_CONFIG to be a folder of <tenant>.yaml "
                      "files (it is a single config file)", file=sys.stderr)
                return 2
            tenants.activate(args.tenant)
            return None
        if not known:
            return None
        tenants.check_tenants()
    except (SettingsError, ConfigError) as exc:
        print(f"emd {args.argv[0]}: {exc}", file=sys.stderr)
        return 1
    failed = []
    for name in known:
        print(f"emd {args.argv[0]}: tenant {name}", flush=True)
        if subprocess.call([sys.executable, "-m", "orchestration.cli", *args.argv, "--tenant", name]) != 0:
            failed.append(name)
    if failed:
        print(f"emd {args.argv[0]}: failed for tenant(s) {', '.join(failed)} (their messages are above)", file=sys.stderr)
        return 1
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from emd.config import ConfigError
    from emd.http import ApiError
    from emd.logs import configure_logging
    from emd.settings import SettingsError, database_target
    from orchestration.pipeline import PipelineError, run_pipeline

    if args.end < args.start:
        print(f"emd pipeline: --end {args.end} is before --start {args.start}", file=sys.stderr)
        return 2
    per_tenant = _each_tenant(args)
    if per_tenant is not None:
        return per_tenant
    configure_logging()  # progress lines, and Dagster's run logs, as JSON with the run id when EMD_LOG_FORMAT=json
    try:
        database_target()  # a malformed DATABASE_URL: one message now, not one per failed step
        if args.synthetic:
            from mock_apis.demo_config import write_demo_config
            from mock_apis.server import MockApi

            with MockApi(_mock_state(args)) as api:
                os.environ.update(api.env())
                config = Path(args.synthetic_config)
                config.parent.mkdir(parents=True, exist_ok=True)
                write_demo_config(api.state.org, config)
                os.environ["EMD_CONFIG"] = str(config)
                print(f"emd pipeline: using the synthetic org served by {api.url} (asked for with --synthetic)")
                run_pipeline(args.start, args.end, full_refresh=args.full_refresh)
        else:
            run_pipeline(args.start, args.end, full_refresh=args.full_refresh)
    except (PipelineError, ConfigError, SettingsError, ApiError) as exc:
        print(f"emd pipeline: {exc}", file=sys.stderr)
        return 1
    print("emd pipeline: done")
    return 0


def cmd_cards(args: argparse.Namespace) -> int:
    """The Sprint Health cards and their Slack post again, from the current marts (no ingestion, no dbt)."""
    from emd.config import ConfigError
    from emd.logs import configure_logging
    from emd.settings import SettingsError, database_target
    from orchestration.job_names import INSIGHTS_JOB
    from orchestration.pipeline import PipelineError, run_pipeline

    per_tenant = _each_tenant(args)
    if per_tenant is not None:
        return per_tenant
    configure_logging()
    today = datetime.now(UTC).date()
    try:
        database_target()
        run_pipeline(today, today, steps=(INSIGHTS_JOB,), rewrite_posted=args.rewrite)
    except (PipelineError, ConfigError, SettingsError) as exc:
        print(f"emd cards: {exc}", file=sys.stderr)
        return 1
    print("emd cards: done")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from orchestration.demo import run_demo

    return run_demo(args)


def cmd_docs(args: argparse.Namespace) -> int:
    from orchestration.defs.dbt.docs import serve_docs

    try:
        return serve_docs(port=args.port, host=args.host, serve=not args.no_serve)
    except RuntimeError as exc:
        print(f"emd docs: {exc}", file=sys.stderr)
        return 1


# The API's entry point, named for uvicorn to import: nothing but the API's own entry imports api/ (DESIGN.md).
API_APP = "api.main:app"


def serve_api(host: str, port: int) -> int:
    import uvicorn

    from emd.auth import TokenVerifier, oidc_settings

    # Sign-in's settings and the issuer's keys before serving: a SettingsError naming the variable, not a
    # server that answers 500s. The app checks again at its own start (its lifespan).
    oidc = oidc_settings()
    if oidc is not None:
        TokenVerifier(oidc).start()
    # One process; DuckDB reads run in FastAPI's thread pool (DuckDB releases the GIL while it queries). Access
    # lines are the API's own JSON ones (api/observability.py), so uvicorn's are off.
    uvicorn.run(API_APP, host=host, port=port, log_level="info", access_log=False)
    return 0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_open_without_sign_in(command: str, args: argparse.Namespace) -> str | None:
    """Why `emd api`/`emd dashboard` will not listen on `--host` (None: it may)."""
    from emd.auth import sign_in_enabled

    if sign_in_enabled() or args.allow_unauthenticated or is_loopback(args.host):
        return None
    return (f"emd {command}: refusing to listen on {args.host} without sign-in: anyone who can reach that address "
            "would see every team's numbers, pull request titles and people. Set EMD_OIDC_ISSUER (README "
            "\"Sign-in\"), or keep --host 127.0.0.1 behind an authenticating proxy, or pass "
            "--allow-unauthenticated if everyone on that network may read every metric.")


def _serve(command: str, args: argparse.Namespace) -> int:
    from emd.config import ConfigError
    from emd.settings import SettingsError

    refusal = refuse_open_without_sign_in(command, args)
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 2
    try:
        if command == "api":
            return serve_api(args.host, args.port)
        from app.server import serve  # lazily: the other commands need no Streamlit

        return serve(host=args.host, port=args.port)
    except (SettingsError, ConfigError) as exc:
        print(f"emd {command}: {exc}", file=sys.stderr)
        return 1


def cmd_api(args: argparse.Namespace) -> int:
    return _serve("api", args)


def cmd_dashboard(args: argparse.Namespace) -> int:
    return _serve("dashboard", args)


def cmd_readout(args: argparse.Namespace) -> int:
    from emd import tenants
    from emd.config import ConfigError
    from emd.metrics.filters import FilterError
    from emd.readout.content import ReadoutError
    from emd.readout.run import prepare, write
    from emd.settings import SettingsError

    try:
        # A readout is one tenant's: its config, warehouse and prefixed Slides/Notion credentials, never a mix.
        known = tenants.names()
        if args.tenant is not None or len(known) > 1:
            if args.tenant is None:
                print(f"emd readout: --tenant is required: EMD_CONFIG is a folder of several tenants "
                      f"({', '.join(known)})", file=sys.stderr)
                return 2
            if not known:
                print(f"emd readout: --tenant {args.tenant} needs EMD_CONFIG to be a folder of <tenant>.yaml "
                      "files (it is a single config file)", file=sys.stderr)
                return 2
            tenants.activate(args.tenant)
        readout = prepare(args.period, team=args.team, org=args.org, use_model=not args.no_model)
        written = write(readout, args.to, Path(args.out) if args.out else None)
    except FilterError as exc:
        print(f"emd readout: --{exc.param} {exc.message}", file=sys.stderr)
        return 2
    except (ReadoutError, ConfigError, SettingsError) as exc:
        print(f"emd readout: {exc}", file=sys.stderr)
        return 1
    summary = "model" if readout.summary_source == "model" else f"rule-based: {readout.summary_note}"
    print(f"emd readout: {readout.title} written to {written.location} (summary {summary})")
    return 0


def cmd_workspace(args: argparse.Namespace) -> int:
    from emd.settings import SettingsError
    from orchestration.tenant_locations import workspace_yaml

    try:
        text = workspace_yaml()
    except SettingsError as exc:
        print(f"emd workspace: {exc}", file=sys.stderr)
        return 1
    if args.out is None:
        print(text, end="")
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"emd workspace: wrote {args.out}")
    return 0


def _add_mock_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic org (default 7)")
    p.add_argument("--scale", choices=["default", "large"], default="default")
    p.add_argument("--anchor", type=_date, default=None, help="last day of synthetic activity (default: today UTC)")
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of requests answered with a fault")
    p.add_argument("--fault-seed", type=int, default=1)
    p.add_argument("--jira-timezone", default="America/Los_Angeles", help="the Jira API user's profile time zone")
    p.add_argument("--days", type=_positive, default=45,
                   help="days of history the synthetic org has, ending at --anchor (default 45)")
    p.add_argument("--rate-limit", type=_positive, default=5000,
                   help="the mock GitHub's GraphQL points per hour (default GitHub's 5,000)")


def cmd_connect_github(args: argparse.Namespace) -> int:
    import webbrowser

    from emd.connect import connect_github, github_instructions
    from emd.http import ApiError
    from emd.settings import SettingsError

    try:
        app = connect_github(args.org, None if args.no_browser else webbrowser.open, port=args.port)
    except (ApiError, SettingsError) as exc:
        print(f"emd connect github: {exc}", file=sys.stderr)
        return 1
    print(github_instructions(app))
    return 0


def cmd_connect_jira(args: argparse.Namespace) -> int:
    import webbrowser

    from emd.http import ApiError
    from emd.jira_oauth import connect_jira
    from emd.settings import SettingsError

    try:
        site = connect_jira(None if args.no_browser else webbrowser.open, port=args.port)
    except (ApiError, SettingsError) as exc:
        print(f"emd connect jira: {exc}", file=sys.stderr)
        return 1
    print(f"Connected Jira site {site['site_url']} (cloud id {site['cloud_id']}); tokens stored in "
          f"{site['credentials_file']}. Keep JIRA_OAUTH_CLIENT_ID and JIRA_OAUTH_CLIENT_SECRET set for runs.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emd", description="Engineering metrics: DORA, flow and planning.")
    sub = parser.add_subparsers(dest="command", required=True)

    mock = sub.add_parser("mock-api", help="serve the synthetic org as GitHub, Jira, Slack and an LLM on loopback")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=8765)
    mock.add_argument("--write-config", help="write the matching project config (YAML) to this path")
    mock.add_argument("--write-env", help="write the environment variables pointing at the mock to this path")
    mock.add_argument("--write-google-key", help="write the mock Google service account's key file to this path "
                                                 "(GOOGLE_APPLICATION_CREDENTIALS, for `emd readout --to slides`)")
    mock.add_argument("--huge-day", type=_date, default=None,
                      help="a day after --anchor on which a bulk edit updated --huge-day-prs PRs and "
                           "--huge-day-issues Jira issues (memory benchmarks; mock_apis/huge_day.py)")
    mock.add_argument("--huge-day-prs", type=int, default=50_000)
    mock.add_argument("--huge-day-issues", type=int, default=200_000)
    _add_mock_args(mock)
    mock.set_defaults(func=cmd_mock_api)

    today = datetime.now(UTC).date()
    pipe = sub.add_parser("pipeline", help="ingest every day in --start..--end, then build the marts and cards")
    pipe.add_argument("--start", type=_date, default=today - timedelta(days=29))
    pipe.add_argument("--end", type=_date, default=today)
    pipe.add_argument("--synthetic", action="store_true",
                      help="run against an in-process mock API serving the synthetic org instead of real APIs")
    pipe.add_argument("--synthetic-config", default=".emd/synthetic-config.yaml")
    pipe.add_argument("--tenant", default=None,
                      help="with EMD_CONFIG a folder of <tenant>.yaml: run this tenant only (default: each in turn)")
    pipe.add_argument("--full-refresh", action="store_true",
                      help="rebuild every dbt model from scratch (marts_full_refresh_job) instead of the marts_job")
    _add_mock_args(pipe)
    pipe.set_defaults(func=cmd_pipeline)

    docs = sub.add_parser("docs", help="generate the dbt docs site and serve it (default port 8080)")
    docs.add_argument("--port", type=int, default=8080)
    docs.add_argument("--host", default="127.0.0.1")
    docs.add_argument("--no-serve", action="store_true", help="generate the site, then exit")
    docs.set_defaults(func=cmd_docs)

    for name, port, func, text in (
            ("api", 8000, cmd_api, "serve the metrics API (FastAPI; OpenAPI at /docs) over the published build"),
            ("dashboard", 8501, cmd_dashboard, "serve the dashboard (Streamlit; sign-in with EMD_OIDC_ISSUER)")):
        server = sub.add_parser(name, help=text)
        server.add_argument("--host", default="127.0.0.1")
        server.add_argument("--port", type=int, default=port)
        server.add_argument("--allow-unauthenticated", action="store_true",
                            help="listen on a non-loopback --host without sign-in (EMD_OIDC_ISSUER unset)")
        server.set_defaults(func=func)

    connect = sub.add_parser("connect", help="connect a source without a personal token (GitHub App manifest flow, Jira OAuth 2.0)")
    connect_sub = connect.add_subparsers(dest="source", required=True)
    gh = connect_sub.add_parser("github", help="create a read-only GitHub App for --org and store its key")
    gh.add_argument("--org", required=True, help="the GitHub organization that owns github.repos")
    gh.add_argument("--port", type=int, default=0, help="the loopback port of the setup page (default: a free one)")
    gh.add_argument("--no-browser", action="store_true", help="print the setup page's URL instead of opening it")
    gh.set_defaults(func=cmd_connect_github)
    jira = connect_sub.add_parser("jira", help="authorize the Jira OAuth 2.0 (3LO) app for JIRA_BASE_URL and store "
                                               "its rotating refresh token")
    jira.add_argument("--port", type=int, default=8766,
                      help="the loopback callback port; the app's callback URL must be http://127.0.0.1:PORT/callback")
    jira.add_argument("--no-browser", action="store_true", help="print the authorize URL instead of opening it")
    jira.set_defaults(func=cmd_connect_jira)

    demo = sub.add_parser("demo", help="what `make demo` runs: mock APIs, 30-day backfill, UI, dashboard, docs, metrics API")
    demo.add_argument("--no-serve", action="store_true", help="build everything, then exit without serving")
    _add_mock_args(demo)
    demo.set_defaults(func=cmd_demo)
    cards = sub.add_parser("cards", help="write the Sprint Health cards (and their Slack post) again from the current marts")
    cards.add_argument("--rewrite", action="store_true",
                       help="also rewrite cards already posted to Slack whose metrics changed (model calls, edited "
                            "messages); by default they stay as posted")
    cards.add_argument("--tenant", default=None,
                       help="with EMD_CONFIG a folder of <tenant>.yaml: this tenant only (default: each in turn)")
    cards.set_defaults(func=cmd_cards)
    readout = sub.add_parser("readout", help="an executive readout of a month or quarter: pptx, Google Slides or Notion")
    readout.add_argument("--period", required=True, help="a month YYYY-MM or a quarter YYYY-Qn")
    readout.add_argument("--team", default=None, help="one team (default: the whole org)")
    readout.add_argument("--org", default=None, help="the org, when the build holds several")
    readout.add_argument("--to", choices=["pptx", "slides", "notion"], default="pptx")
    readout.add_argument("--out", default=None, help="pptx: the file to write (default readouts/readout-PERIOD-SCOPE.pptx)")
    readout.add_argument("--tenant", default=None,
                         help="with EMD_CONFIG a folder of <tenant>.yaml: the tenant whose readout this is "
                              "(required with several)")
    readout.add_argument("--no-model", action="store_true", help="the rule-based summary, without calling the model")
    readout.set_defaults(func=cmd_readout)

    workspace = sub.add_parser("workspace", help="write Dagster's workspace.yaml: one code location per tenant of "
                                                 "the EMD_CONFIG folder (one location for a single config file)")
    workspace.add_argument("--out", default=None, help="the file to write (default: print it)")
    workspace.set_defaults(func=cmd_workspace)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if Path(".env").exists():  # as `dagster dev` does; variables already set win
        from dotenv import load_dotenv

        load_dotenv(".env", override=False)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
