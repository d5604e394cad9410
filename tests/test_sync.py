"""The sync engine against the simulators: FakeWhmcs and FakeZimbra served on loopback by BackgroundServer."""

import datetime as dt
import threading
from dataclasses import dataclass

import pytest

from puq_bridge.config import ZimbraConfig
from puq_bridge.errors import ParamsError, SyncLockedError, ZimbraError
from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.store import ServiceResult, UsageStore
from puq_bridge.sync import SyncEngine, SyncReport, describe, needs_write, sync_lock

MB = 1024 * 1024
GB = 1024 * MB
ADMIN, PASSWORD = "admin@example.com", "zimbra-secret"


@dataclass
class Mail:
    """A FakeZimbra served on loopback, and the [[zimbra]] entry pointing at it."""

    sim: object
    server: BackgroundServer
    entry: ZimbraConfig


class Farm:
    """WHMCS plus several Zimbra servers, each one WHMCS server id."""

    def __init__(self, whmcs_sim):
        from puq_bridge.simulators.zimbra import FakeZimbra

        self._fake_zimbra = FakeZimbra
        self.whmcs = whmcs_sim
        self.client_id = whmcs_sim.add_client("Jan", "Kowalski", "jan@example.pl", language="polish")
        self.product = whmcs_sim.add_product("Private Zimbra mail server")
        self.mail: dict[str, Mail] = {}

    def add_mail(self, name: str) -> Mail:
        sim = self._fake_zimbra(ADMIN, PASSWORD, host=f"{name}.example.com")
        server = BackgroundServer(sim.wsgi_app).start()
        server_id = self.whmcs.add_server(name, f"{name}.example.com", "192.0.2.1")
        entry = ZimbraConfig(name=name, whmcs_server=server_id, url=server.url, admin_user=ADMIN,
                             password=PASSWORD, timeout=2)
        self.mail[name] = Mail(sim, server, entry)
        return self.mail[name]

    def domain(self, mail: str, domain: str, *boxes: tuple[int, int]) -> None:
        """A domain with mailboxes given as (used bytes, quota bytes)."""
        sim = self.mail[mail].sim
        sim.add_domain(domain)
        for i, (used, quota) in enumerate(boxes):
            sim.add_account(f"user{i}@{domain}", quota=quota, used=used)

    def service(self, mail: str | None, domain: str, **kw) -> int:
        server_id = self.mail[mail].entry.whmcs_server if mail else kw.pop("server_id", None)
        return self.whmcs.add_service(self.client_id, kw.pop("product", self.product), domain, server_id=server_id,
                                      **kw)

    def engine(self, whmcs_client, **kw) -> SyncEngine:
        from puq_bridge.zimbra import ZimbraAdmin

        def factory(entry):
            return ZimbraAdmin(entry.url, entry.admin_user, entry.password, name=entry.name, timeout=2)

        return SyncEngine(whmcs_client, [m.entry for m in self.mail.values()], factory, **kw)

    def writes(self) -> dict[int, dict]:
        """service id -> params of every UpdateClientProduct WHMCS received."""
        return {int(r["params"]["serviceid"]): r["params"] for r in self.whmcs.requests
                if r["action"] == "UpdateClientProduct"}

    def stop(self) -> None:
        for m in self.mail.values():
            m.server.stop()


@pytest.fixture
def farm(whmcs_server):
    sim, _url = whmcs_server
    f = Farm(sim)
    yield f
    f.stop()


@pytest.fixture
def store(tmp_path):
    with UsageStore(tmp_path / "store" / "usage.sqlite3") as s:
        yield s


def by_id(report: SyncReport) -> dict[int, ServiceResult]:
    return {r.service_id: r for r in report.results}


# --- the rules, without servers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("whmcs, read, expected", [
    ((118, 10240), (118, 10240), False),      # same values: no write
    ((118, 10240), (119, 10240), True),       # usage grew
    ((118, 10240), (118, 0), True),           # limit became unlimited
    ((0, 0), (1, 0), True),                   # first usage of a new service
    ((0, 0), (0, 0), False),                  # empty and new: nothing to write
    ((118, 10240), (0, 10240), False),        # emptied: WHMCS ignores diskusage=0, a write would change nothing
    ((118, 10240), (0, 20480), True),         # emptied but the limit changed: the limit is still written
])
def test_needs_write(whmcs, read, expected):
    assert needs_write(*whmcs, *read) is expected


def test_lock_is_exclusive_and_released(tmp_path):
    store_path = tmp_path / "sub" / "usage.sqlite3"
    with sync_lock(store_path) as lock_path:
        assert lock_path == tmp_path / "sub" / "usage.sqlite3.lock"
        with pytest.raises(SyncLockedError, match=r"another sync-usage run holds the lock .*\(pid \d+\)"):
            with sync_lock(store_path):
                pass  # pragma: no cover
    with sync_lock(store_path):
        pass


def test_describe_names_the_server_once():
    assert describe(ConnectionRefusedError("connection refused"), "mail2") == \
        "mail2: ConnectionRefusedError: connection refused"
    assert describe(ZimbraError("mail2", "AuthRequest", "connection refused"), "mail2") == \
        "Zimbra mail2 AuthRequest: connection refused"
    assert describe(ValueError("first line\nsecond line")) == "ValueError: first line"


def test_report_json_document_shape():
    started = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.timezone.utc)
    ok = ServiceResult(42, "example.pl", "mail1", "updated", 123456789, 10 * GB, (), None)
    bad = ServiceResult(43, "b.pl", "mail2", "failed", error="mail2: connection refused")
    doc = SyncReport(started, 1.8, False, [ok, bad]).to_json()
    assert doc["started"] == "2026-11-22T03:00:00Z" and doc["duration_s"] == 1.8 and doc["dry_run"] is False
    assert doc["totals"] == {"updated": 1, "unchanged": 0, "failed": 1, "skipped": 0}
    assert doc["services"][0] == {"service_id": 42, "domain": "example.pl", "server": "mail1", "mailboxes": 0,
                                  "used_bytes": 123456789, "limit_bytes": 10737418240, "used_mb": 118,
                                  "limit_mb": 10240, "status": "updated", "error": None}
    assert doc["services"][1]["used_mb"] is None and doc["services"][1]["error"] == "mail2: connection refused"
    assert SyncReport(started, 0, False, [ok]).exit_code == 0
    assert SyncReport(started, 0, False, [ok, bad]).exit_code == 1
