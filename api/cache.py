"""Answers cached per published build: a build never changes once published (emd/snapshot.py), so an answer
computed for (build, route, filters) stays right until the next build, which has its own key. The dashboard
caches the same way (st.cache_data keyed on the build). On Postgres a build is a schema of its own that the
request's Source resolved once (emd/metrics/source.py), so an answer is cached under the build it read even
when a publish lands while it is computed. A Postgres warehouse not published yet (build id "live") is not
cached. Identical requests that arrive together compute the answer once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from emd.metrics.source import Source

T = TypeVar("T")
MAX_ENTRIES = 2048


class BuildCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._answers: OrderedDict[Hashable, object] = OrderedDict()
        self._computing: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, source: Source, key: Hashable, compute: Callable[[], T]) -> T:
        if source.build_id == "live":
            return compute()
        full = (source.key, source.build_id, key)
        with self._lock:
            if full in self._answers:
                self._answers.move_to_end(full)
                return self._answers[full]  # type: ignore[return-value]
            flight = self._computing.setdefault(full, threading.Lock())
        with flight:
            with self._lock:
                if full in self._answers:
                    return self._answers[full]  # type: ignore[return-value]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._computing.pop(full, None)
            with self._lock:
                self._answers[full] = value
                while len(self._answers) > self.max_entries:
                    self._answers.popitem(last=False)
        return value

    async def get_async(self, source: Source, key: Hashable, compute: Callable[[], T]) -> T:
        """`get` from a coroutine: a hit answers on the event loop; a miss computes in the thread pool."""
        if source.build_id != "live":
            with self._lock:
                full = (source.key, source.build_id, key)
                if full in self._answers:
                    self._answers.move_to_end(full)
                    return self._answers[full]  # type: ignore[return-value]
        return await run_in_threadpool(self.get, source, key, compute)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()


answers = BuildCache()
