"""`make bench`: run every benchmark module in bench/ (bench_*.py, each with a `main()` that prints figures).

Not part of `make test`. Pass names to run a subset: `make bench BENCH_ARGS="ingestion dbt"`.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE.parent))
    wanted = set(argv)
    failures = 0
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"== bench {name}", flush=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        began = time.monotonic()
        try:
            module.main()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failures += 1
            print(f"bench {name} failed: {type(exc).__name__}: {exc}", flush=True)
        print(f"== bench {name} took {time.monotonic() - began:.1f}s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
