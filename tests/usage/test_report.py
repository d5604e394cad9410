"""The report of one sync run: its ``--json`` document, totals and exit code."""

import datetime as dt

from puq_bridge.units import GB
from puq_bridge.usage.records import ServiceResult
from puq_bridge.usage.report import SyncReport


def test_report_json_document_shape():
    started = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.timezone.utc)
    ok = ServiceResult(42, "example.pl", "mail1", "updated", 123456789, 10 * GB, (), None)
    bad = ServiceResult(43, "b.pl", "mail2", "failed", error="mail2: connection refused")
    doc = SyncReport(started, 1.8, False, [ok, bad]).to_json()
    assert (
        doc["started"] == "2026-11-22T03:00:00Z"
        and doc["duration_s"] == 1.8
        and doc["dry_run"] is False
    )
    assert doc["totals"] == {"updated": 1, "unchanged": 0, "failed": 1, "skipped": 0}
    assert doc["services"][0] == {
        "service_id": 42,
        "domain": "example.pl",
        "server": "mail1",
        "mailboxes": 0,
        "used_bytes": 123456789,
        "limit_bytes": 10737418240,
        "used_mb": 118,
        "limit_mb": 10240,
        "status": "updated",
        "error": None,
    }
    assert (
        doc["services"][1]["used_mb"] is None
        and doc["services"][1]["error"] == "mail2: connection refused"
    )
    assert SyncReport(started, 0, False, [ok]).exit_code == 0
    assert SyncReport(started, 0, False, [ok, bad]).exit_code == 1
