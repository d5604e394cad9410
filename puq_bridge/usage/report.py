"""The report of one usage-sync run: per-service results, totals, the exit code and the ``--json``
document."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from puq_bridge.units import bytes_to_mb
from puq_bridge.usage.records import STATUSES, ServiceResult

__all__ = ["ServerResult", "SyncReport", "result_json"]


@dataclass(frozen=True)
class ServerResult:
    """How one Zimbra server was read in a run.

    ``plan``: ``server`` (whole-server GetQuotaUsage), ``domain`` (one per domain), or ``None``
    when nothing could be read (authentication failed); ``why``: the reason, one line.
    ``requests``: every request the run sent the server (Auth, the system-account query, the
    account count, usage reads, repeats), as its client counted them; ``usage_requests``: the
    GetQuotaUsage requests among them; ``rows``: the mailbox rows read; ``throttled``: requests the
    server refused with HTTP 503/429; ``retries``: those sent again.
    """

    server: str
    plan: str | None
    why: str
    requests: int = 0
    usage_requests: int = 0
    rows: int = 0
    throttled: int = 0
    retries: int = 0


@dataclass
class SyncReport:
    """The outcome of one run: every service's result, in service-id order."""

    started: dt.datetime
    duration_s: float
    dry_run: bool
    results: list[ServiceResult]
    store_error: str | None = None
    #: how each server was read, by server name.
    servers: list[ServerResult] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        """How many services ended in each status."""
        return {s: sum(1 for r in self.results if r.status == s) for s in STATUSES}

    @property
    def failed(self) -> list[ServiceResult]:
        """The services that failed."""
        return [r for r in self.results if r.status == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every service synced (or was skipped), 1 when some failed or the run could not be
        recorded."""
        return 1 if self.failed or self.store_error else 0

    def to_json(self) -> dict[str, Any]:
        """The ``sync-usage --json`` document of DESIGN.md."""
        return {
            "started": self.started.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round(self.duration_s, 3),
            "dry_run": self.dry_run,
            "totals": self.totals,
            "services": [result_json(r) for r in self.results],
            "servers": [asdict(s) for s in self.servers],
        }


def result_json(r: ServiceResult) -> dict[str, Any]:
    """One service of the JSON document; numbers are ``null`` when nothing was read."""
    data = r.has_data
    return {
        "service_id": r.service_id,
        "domain": r.domain,
        "server": r.server or None,
        "mailboxes": len(r.mailboxes) if data else None,
        "used_bytes": r.used_bytes,
        "limit_bytes": r.limit_bytes,
        "used_mb": bytes_to_mb(r.used_bytes) if data else None,
        "limit_mb": bytes_to_mb(r.limit_bytes or 0) if data else None,
        "status": r.status,
        "error": r.error,
    }
