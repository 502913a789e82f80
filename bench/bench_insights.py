"""Sprint Health cost figures over the default synthetic org (seed 7, 30 days to 2026-03-31), mock LLM and Slack.

Builds the marts (ingestion + dbt) into a temporary DuckDB file, then measures: cards per run, model calls
and tokens per card (first run), what a second run costs (cache), the rule-based card's time, and the Slack
post. Every URL points at the in-process mock: the benchmark, like the demo, calls no paid API. Token counts
are the mock's (about 4 characters a token); a real tokenizer gives a similar order of magnitude.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

ANCHOR = date(2026, 3, 31)
DAYS = 30
# For a what-if figure only: list prices per million tokens of a small hosted model (input, output), USD.
WHAT_IF_MODEL, WHAT_IF_PRICE = "gpt-4o-mini", (0.15, 0.60)


def _build_marts(log) -> None:
    from emd.warehouse import Warehouse
    from orchestration.pipeline import INGESTION_JOB, MARTS_JOB, PipelineError, run_pipeline

    try:
        run_pipeline(ANCHOR - timedelta(days=DAYS - 1), ANCHOR, steps=(INGESTION_JOB, MARTS_JOB), log=lambda _: None)
    except PipelineError as exc:
        # The card reads three marts; a failing dbt test elsewhere does not stop the measurement, but is shown.
        wh = Warehouse()
        present = {r[0] for r in wh.query("select table_name from information_schema.tables")}
        if not {"fct_pull_requests", "fct_deployments", "mv_planning_by_sprint"} <= present:
            raise
        log(f"note: the marts build reported a failure ({str(exc)[:160]}...); the three marts the card reads exist")


def main() -> None:
    from emd.config import load_config
    from emd.records import RecordStore
    from emd.slack import (
        SlackPoster,
        build_message,
        latest_per_team,
        slack_target,
    )
    from emd.sprint_health import read_rows, record_post
    from emd.warehouse import Warehouse
    from mock_apis.org import SyntheticOrg
    from mock_apis.server import MockApi, MockState
    from orchestration.defs.insights.cache import write_cards
    from orchestration.defs.insights.card import CardWriter, llm_settings, word_count

    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp, MockApi(MockState(org=SyntheticOrg(seed=7, anchor=ANCHOR))) as api:
        try:
            config_path = Path(tmp) / "config.yaml"
            config_path.write_text(yaml.safe_dump(api.state.org.config(), sort_keys=False), encoding="utf-8")
            os.environ.update(api.env())
            os.environ.update({"EMD_CONFIG": str(config_path), "DATABASE_URL": f"duckdb:///{tmp}/warehouse.duckdb"})
            os.environ.pop("DAGSTER_HOME", None)
            began = time.monotonic()
            _build_marts(print)
            print(f"marts built for {DAYS} days of the default synthetic org in {time.monotonic() - began:.0f}s")

            wh = Warehouse()
            teams = [t.name for t in load_config().teams]
            now = datetime.now(UTC).replace(tzinfo=None)

            writer = CardWriter(llm_settings())
            began = time.monotonic()
            first = write_cards(wh, teams, writer, now)
            elapsed = time.monotonic() - began
            rows = list(read_rows(wh).values())
            kinds = {k: sum(1 for r in rows if r.period_kind == k) for k in ("sprint", "week")}
            n = max(first["cards_written"], 1)
            print(f"cards per run: {first['cards_total']} ({kinds['sprint']} sprint, {kinds['week']} week) "
                  f"for {first['teams']} teams")
            print(f"first run (mock LLM): {first['model_calls']} model calls, {first['llm_tokens']} tokens, "
                  f"{first['llm_tokens'] / n:.0f} tokens per card ({writer.prompt_tokens / n:.0f} prompt + "
                  f"{writer.completion_tokens / n:.0f} completion), {first['fallback_cards']} fallbacks, {elapsed:.2f}s")
            blob_bytes = [len(r.metrics_json.encode()) for r in rows]
            words = [word_count(json.loads(r.card_json)) for r in rows]
            print(f"metrics blob: {statistics.mean(blob_bytes):.0f} bytes mean, {max(blob_bytes)} max; "
                  f"card words: {statistics.mean(words):.0f} mean, {max(words)} max (limit 180)")
            price_in, price_out = WHAT_IF_PRICE
            dollars = (writer.prompt_tokens * price_in + writer.completion_tokens * price_out) / 1e6
            print(f"what-if: the same tokens on {WHAT_IF_MODEL} (${price_in}/${price_out} per 1M in/out, list price "
                  f"at the time of writing) would cost ${dollars:.4f} for this run, about "
                  f"${dollars / n:.5f} per card; the cache makes reruns free")

            second_writer = CardWriter(llm_settings())
            began = time.monotonic()
            second = write_cards(wh, teams, second_writer, now)
            print(f"second run, same inputs: {second['cache_hits']} cache hits, {second['model_calls']} model calls, "
                  f"{second['llm_tokens']} tokens, {time.monotonic() - began:.2f}s")

            with RecordStore.of(wh).connect() as conn:  # the cards live in the record store (emd/records.py)
                conn.execute("delete from sprint_health")
            began = time.monotonic()
            rule_based = write_cards(wh, teams, CardWriter(None), now)
            elapsed = time.monotonic() - began
            print(f"rule-based cards (no OPENAI_API_KEY): {rule_based['cards_written']} in {elapsed:.2f}s "
                  f"({1000 * elapsed / max(rule_based['cards_written'], 1):.1f} ms per card incl. reading the marts), "
                  "0 tokens")

            target = slack_target()
            assert target is not None
            poster = SlackPoster(target)
            poster.check_auth()
            latest = latest_per_team(list(read_rows(wh).values()), ("sprint", "week"))
            for _ in range(2):  # the second pass edits the same messages
                for row in latest:
                    row = read_rows(wh)[row.key]
                    message = build_message(row, load_config().dashboard_url)
                    channel, ts, _action = poster.publish(message, row.slack_channel, row.slack_ts)
                    record_post(wh, row.key, channel, ts, json.dumps(message), now)
            posted = api.state.extra["slack_messages"]
            print(f"slack: {len(posted)} messages for {len(latest)} teams after two runs "
                  f"({sum(m['edits'] for m in posted.values())} edits), {poster.calls} API calls")
            print(f"paid API calls: 0 (OPENAI_BASE_URL={os.environ['OPENAI_BASE_URL']}, "
                  f"SLACK_API_URL={os.environ['SLACK_API_URL']}: the local mock; the demo points at it too)")
        finally:
            os.environ.clear()
            os.environ.update(saved)


if __name__ == "__main__":
    main()
