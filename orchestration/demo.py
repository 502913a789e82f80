"""`emd demo` (what `make demo` runs). Filled in by the production-readiness issue."""

from __future__ import annotations

import argparse
import sys


def run_demo(args: argparse.Namespace) -> int:
    print("emd demo: not built yet", file=sys.stderr)
    return 2
