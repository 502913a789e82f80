"""`make bench`: run every benchmark module in bench/ (bench_*.py, each with a `main()` that prints figures).

Not part of `make test`. Pass names to run a subset: `make bench BENCH_ARGS="ingestion dbt"`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = sorted(path.stem.removeprefix("bench_") for path in HERE.glob("bench_*.py"))
    if {"-h", "--help"} & set(argv):
        print(f"{(__doc__ or '').strip()}\n\nbenchmarks: {' '.join(names)}")
        return 0
    wanted = set(argv)
    if unknown := wanted - set(names):
        print(f"unknown benchmark(s): {' '.join(sorted(unknown))}; choose from: {' '.join(names)}", file=sys.stderr)
        return 2
    failures = 0
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"== bench {name}", flush=True)
        began = time.monotonic()
        # Each benchmark in its own process, so its peak RSS and imports are its own.
        code = f"import runpy, sys; sys.path.insert(0, {str(HERE.parent)!r}); runpy.run_path({str(path)!r})['main']()"
        result = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent)
        if result.returncode != 0:  # one broken benchmark must not hide the others' figures
            failures += 1
            print(f"bench {name} failed (exit {result.returncode})", flush=True)
        print(f"== bench {name} took {time.monotonic() - began:.1f}s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
