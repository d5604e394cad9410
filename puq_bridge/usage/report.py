"""The report of one usage-sync run: per-service results, totals, the exit code and the ``--json``
document."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from puq_bridge.units import bytes_to_mb
from puq_bridge.usage.records import STATUSES, ServiceResult

__all__ = ["SyncReport", "result_json"]


@dataclass
class SyncReport:
    """The outcome of one run: every service's result, in service-id order."""

    started: dt.datetime
    duration_s: float
    dry_run: bool
    results: list[ServiceResult]
    store_error: str | None = None

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
