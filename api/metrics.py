"""Prometheus metrics of one app: requests by route and status, latency, the snapshot being
served and how old it is, feed pages served precomputed or ranked online, filter removals,
events accepted. Each app has its own registry, so apps in one process do not collide."""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("reelrank_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("reelrank_http_request_duration_seconds",
                                 "time to answer an HTTP request", ["method", "route"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.pages = Counter("reelrank_feed_pages", "feed pages served, by how they were made "
                             "(precomputed, online, degraded under load; shed: refused 503)",
                             ["kind"], registry=r)
        self.removed = Counter("reelrank_feed_removed", "candidates a policy filter removed "
                               "from served pages", ["filter"], registry=r)
        self.events = Counter("reelrank_events", "events posted, by outcome", ["outcome"],
                              registry=r)
        self.swaps = Counter("reelrank_snapshot_loads", "snapshot loads, by outcome",
                             ["outcome"], registry=r)
        # Several server processes (`reelrank serve --workers N`) write their values to
        # files prometheus_client sums at scrape time; gauges then say which value wins.
        self.multiprocess = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        gauge = {"multiprocess_mode": "mostrecent"} if self.multiprocess else {}
        self.snapshot_as_of = Gauge("reelrank_snapshot_as_of_seconds",
                                    "the served snapshot's as-of time (unix seconds)",
                                    registry=r, **gauge)
        self.snapshot_loaded = Gauge("reelrank_snapshot_loaded_seconds",
                                     "when the served snapshot was loaded (unix seconds)",
                                     registry=r, **gauge)
        self.snapshot_age = Gauge("reelrank_snapshot_age_seconds",
                                  "seconds since the served snapshot's as-of time", registry=r,
                                  **gauge)
        self._as_of: float | None = None
        if not self.multiprocess:
            self.snapshot_age.set_function(self._age)

    def snapshot_served(self, as_of_s: float, loaded_s: float) -> None:
        self._as_of = as_of_s
        self.snapshot_as_of.set(as_of_s)
        self.snapshot_loaded.set(loaded_s)

    def page_served(self, precomputed: bool, removed: dict[str, int], *,
                    degraded: bool = False) -> None:
        kind = "degraded" if degraded else "precomputed" if precomputed else "online"
        self.pages.labels(kind).inc()
        for name, count in removed.items():
            if count:
                self.removed.labels(name).inc(count)

    def _age(self) -> float:
        return time.time() - self._as_of if self._as_of is not None else float("nan")

    def render(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        self.snapshot_age.set(self._age())
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess)
        return generate_latest(registry)
