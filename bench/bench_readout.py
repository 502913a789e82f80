"""Executive readout build time (issue 20): a quarterly org readout at --scale large, without the model call.

Target: < 10 s from the published build to the written .pptx. The warehouse is bench_app's generated warehouse
of the large synthetic org (10 teams, 52 repos, 45 days to 2026-03-31), published like the pipeline does, so
the quarter 2026-Q1 covers its ingested days (2026-02-15 .. 2026-03-31). Measured: the content (every number
asked of emd.metrics: two periods' tiles, agreements, six periods' trends), the rule-based summary and the
PowerPoint file, cold (first build of the process) and warm; apart, the Notion page's chart PNGs (matplotlib,
one per trend; their upload is network time and not measured here).

    .venv/bin/python bench/bench_readout.py [--scale large|default] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 10.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_readout")
    parser.add_argument("--scale", choices=["large", "default"], default="large")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv or [])
    sys.path.insert(0, str(ROOT))
    from bench.bench_app import generate_warehouse
    from emd.metrics.source import Source, open_source
    from emd.readout.content import build_readout, parse_period
    from emd.readout.pptx_deck import write_pptx
    from emd.readout.summary import write_summary
    from emd.settings import parse_database_url
    from emd.snapshot import publish_build
    from emd.warehouse import Warehouse

    with tempfile.TemporaryDirectory(prefix="bench_readout_") as tmp:
        live = Path(tmp) / "warehouse.duckdb"
        began = time.perf_counter()
        rows = generate_warehouse(live, args.scale)
        publish_build(Warehouse(parse_database_url(f"duckdb:///{live}")))
        print(f"generated and published a --scale {args.scale} warehouse in {time.perf_counter() - began:.1f}s "
              f"({sum(rows.values())} rows)")
        os.environ.pop("OPENAI_API_KEY", None)
        times = []
        for i in range(args.repeat):
            began = time.perf_counter()
            source = open_source(parse_database_url(f"duckdb:///{live}"))
            assert isinstance(source, Source), source
            readout = build_readout(source, parse_period("2026-Q1"))
            content_s = time.perf_counter() - began
            summary = write_summary(readout, use_model=False)
            readout.summary = summary.text
            out = write_pptx(readout, Path(tmp) / f"readout-{i}.pptx")
            total = time.perf_counter() - began
            times.append(total)
            print(f"run {i + 1} ({'cold' if i == 0 else 'warm'}): content {content_s:.2f}s, "
                  f"total {total:.2f}s, {out.stat().st_size // 1024} KiB, covered {readout.covered[0]}..{readout.covered[1]}")
        from emd.readout.charts import trend_png

        began = time.perf_counter()
        sizes = [len(trend_png(key, points)) for key, points in readout.trends.items()]
        print(f"Notion chart images: {len(sizes)} PNGs in {time.perf_counter() - began:.2f}s "
              f"(first import of matplotlib included), {sum(sizes) // 1024} KiB")
        worst = max(times)
        print(f"quarterly org readout, --scale {args.scale}, no model call: worst {worst:.2f}s "
              f"(target < {TARGET_S:.0f} s: {'met' if worst < TARGET_S else 'MISSED'})")


if __name__ == "__main__":
    main(sys.argv[1:])
