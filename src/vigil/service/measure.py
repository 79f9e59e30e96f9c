"""What every response gets on its way out: counted and timed per route and status (the
Prometheus metrics), safe headers, and a bug answered 500 and logged by type and place only."""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Measure", "Metrics"]

log = logging.getLogger(__name__)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("vigil_requests", "Requests by route and status",
                                ["route", "status"], registry=self.registry)  # fmt: skip
        buckets = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 2.0)
        self.latency = Histogram("vigil_request_seconds", "Request latency by route", ["route"],
                                 registry=self.registry, buckets=buckets)  # fmt: skip
        self.matches = Counter("vigil_matches", "Matches by list", ["list"], registry=self.registry)
        self.exchange_busy = Counter("vigil_exchange_busy", "Scheduled syncs skipped: another "
                                     "worker or instance held the exchange", ["exchange"],
                                     registry=self.registry)  # fmt: skip
        self.quarantined = Counter("vigil_quarantined", "Entries quarantined as floods, by list",
                                   ["list"], registry=self.registry)  # fmt: skip
        self.import_rows = Gauge("vigil_import_rows", "Rows written by imports in progress",
                                 registry=self.registry)  # fmt: skip
        self.index_size = Gauge("vigil_index_entries", "Entries in each index", ["type"],
                                registry=self.registry)  # fmt: skip


# on every response: no content sniffing (a JSON body never renders as a page), no framing
_SAFE_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY")]


class Measure:
    """Counts and times requests per route and status (plain ASGI: no per-request task)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [500]

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), *_SAFE_HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:  # a bug: logged by type and place, never its message (which
            # could quote an upload's bytes), and answered 500 if nothing was sent yet
            where = traceback.extract_tb(exc.__traceback__)[-1]
            log.error("%s %s: internal error %s at %s:%s", scope.get("method"), scope.get("path"),
                      type(exc).__name__, where.filename, where.lineno)  # fmt: skip
            if status[0] == 500:
                await _internal(sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - t0)


async def _internal(send: Any) -> None:
    body = b'{"error": {"type": "InternalError", "message": "an internal error (logged)"}}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
