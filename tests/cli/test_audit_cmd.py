"""``puq-bridge audit``: a service's mailbox actions from the store, newest first, as text and as
one JSON document; other services' actions are not shown."""

import datetime as dt

from puq_bridge.usage.store import UsageStore
from tests.cli.support import write_bridge

T0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.timezone.utc)


def test_audit_lists_a_services_actions(tmp_path):
    bridge = write_bridge(tmp_path, "http://127.0.0.1:9", "whmcs-secret")
    with UsageStore(bridge.store_path) as store:
        store.record_action(42, "CreateMailbox", "jan@firma.pl", "ok", user_id="7", when=T0)
        store.record_action(
            42,
            "DeleteMailbox",
            "biuro@firma.pl",
            "refused",
            detail="primary: biuro@firma.pl is the primary mailbox",
            when=T0 + dt.timedelta(minutes=1),
        )
        store.record_action(43, "CreateMailbox", "x@inna.pl", "ok", when=T0)
    result = bridge.run("audit", "--service-id", "42")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "2026-05-04 10:01:00 UTC  user -  DeleteMailbox  biuro@firma.pl  refused  "
        "(primary: biuro@firma.pl is the primary mailbox)",
        "2026-05-04 10:00:00 UTC  user 7  CreateMailbox  jan@firma.pl  ok",
    ]
    doc, _ = bridge.run_json("audit", "--service-id", "42", "--limit", "1")
    assert doc == {
        "service_id": 42,
        "actions": [
            {
                "service_id": 42,
                "user_id": None,
                "action": "DeleteMailbox",
                "target": "biuro@firma.pl",
                "result": "refused",
                "detail": "primary: biuro@firma.pl is the primary mailbox",
                "at": "2026-05-04T10:01:00Z",
            }
        ],
    }
    empty = bridge.run("audit", "--service-id", "44")
    assert empty.stdout == "service 44: no mailbox actions recorded\n"
