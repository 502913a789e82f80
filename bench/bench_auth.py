"""Sign-in cost per API request: the bearer JWT check (emd/auth.py TokenVerifier.verify) with cached keys.

Goal (issue 17): under 1 ms p50. A real OpenID provider (tests/oidc/provider.mjs, the npm package
oidc-provider) issues an RS256 access token on loopback; the verifier fetches the provider's keys once, then
checks the same token N times in this process (signature, iss, exp, aud), as every API request does. Needs
Node.js and `npm ci --prefix tests/oidc` (`make setup` runs it).

    .venv/bin/python bench/bench_auth.py [--checks 5000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=5000)
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
    if shutil.which("node") is None or not (ROOT / "tests/oidc/node_modules/oidc-provider").exists():
        print("bench auth: skipped: needs Node.js and `npm ci --prefix tests/oidc` (make setup)")
        return
    sys.path.insert(0, str(ROOT))
    from emd.auth import OidcSettings, TokenVerifier
    from tests.fixtures.browser import free_port
    from tests.fixtures.oidc import API_AUDIENCE, CLIENT_ID, start_provider

    with tempfile.TemporaryDirectory() as folder, start_provider(Path(folder), free_port()) as provider:
        token = provider.access_token("alice")
        oidc = OidcSettings(issuer=provider.issuer, client_id=CLIENT_ID, client_secret=None, audience=API_AUDIENCE,
                            cookie_secret="-" * 32, tenant_claim="tenant")
        verifier = TokenVerifier(oidc).start()
        for _ in range(50):  # warm-up
            verifier.verify(token)
        timings = []
        for _ in range(args.checks):
            began = time.perf_counter()
            verifier.verify(token)
            timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    p50, p95 = timings[len(timings) // 2], timings[int(len(timings) * 0.95)]
    print(f"bench auth: JWT check (RS256, cached keys) over {args.checks} checks: p50 {p50:.3f} ms, "
          f"p95 {p95:.3f} ms (goal: p50 < 1 ms) -> {'ok' if p50 < 1 else 'OVER GOAL'}")


if __name__ == "__main__":
    main()
