"""Zimbra's DoS filter: the simulator's filter, the client's request rate, and reads refused with
503/429 sent again (Retry-After honoured, within the call's budget) while writes never are."""

import datetime as dt
import email.utils

import pytest
import requests

from puq_bridge.errors import ZimbraThrottled, ZimbraTransportError
from puq_bridge.simulators.zimbra.app import FakeZimbra, populate
from puq_bridge.simulators.zimbra.dos import DosFilter
from puq_bridge.zimbra.client import ZimbraAdmin
from puq_bridge.zimbra.throttle import Pacer, RetryPolicy, is_read, retry_after_seconds
from tests.support.zimbra import ZIMBRA_ADMIN, ZIMBRA_PASSWORD


class FakeTime:
    """A clock that only moves when slept on: the waits a client makes, without waiting."""

    def __init__(self):
        self.now = 100.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        self.now += seconds


def admin(url, fake: FakeTime | None = None, **kw) -> ZimbraAdmin:
    if fake is not None:
        kw.update(clock=fake.clock, sleep=fake.sleep)
    kw.setdefault("max_requests_per_second", None)
    kw.setdefault("timeout", 2)
    return ZimbraAdmin(url, ZIMBRA_ADMIN, ZIMBRA_PASSWORD, name="mail1", **kw)


@pytest.fixture
def sim():
    sim = FakeZimbra(ZIMBRA_ADMIN, ZIMBRA_PASSWORD)
    populate(sim, "firma.pl", 3)
    return sim


# --- the rules, without servers -------------------------------------------------------------------


def test_reads_are_the_operations_that_change_nothing():
    assert all(is_read(op) for op in ("Auth", "GetQuotaUsage", "SearchDirectory", "CountAccount"))
    assert not any(
        is_read(op)
        for op in ("CreateAccount", "ModifyDomain", "SetPassword", "DeleteDomain", "GrantRight")
    )


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    when = dt.datetime(2030, 1, 1, 12, 0, 30, tzinfo=dt.timezone.utc)
    at_noon = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc).timestamp()
    date = email.utils.format_datetime(when, usegmt=True)
    assert retry_after_seconds(date, now=lambda: at_noon) == 30.0
    assert retry_after_seconds(date, now=lambda: at_noon + 60) == 0.0  # already past


def test_the_pacer_counts_requests_per_second_as_the_filter_does():
    fake = FakeTime()
    pacer = Pacer(10, clock=fake.clock, sleep=fake.sleep)
    waited = [pacer.wait() for _ in range(12)]
    assert waited == [0.0] * 10 + [1.0, 0.0]  # ten at once, the 11th a second after the first
    fake.now += 0.5  # t=1.5: the ten of t=0 are past the second, the two of t=1 are not
    assert [pacer.wait() for _ in range(9)] == [0.0] * 8 + [0.5]
    fake.now += 5  # idle: no debt is carried over
    assert [pacer.wait() for _ in range(10)] == [0.0] * 10
    slow = Pacer(0.5, clock=fake.clock, sleep=fake.sleep)  # one request every two seconds
    assert [slow.wait() for _ in range(3)] == [0.0, 2.0, 2.0]
    assert Pacer(None).wait() == 0.0 and Pacer(0).wait() == 0.0


def test_the_retry_policy_doubles_then_gives_up_within_its_budget():
    policy = RetryPolicy(attempts=4, backoff=0.5, max_wait=30, budget=10)
    assert [policy.delay(n, None, 0) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert policy.delay(4, None, 0) is None  # attempts used up
    assert policy.delay(1, 3, 0) == 3  # the server's Retry-After, not the back-off
    assert policy.delay(1, 3, 8) is None  # beyond the budget: fail now, don't hold the run
    assert policy.delay(1, 60, 0) is None  # beyond the longest wait


def test_the_simulators_filter_counts_requests_per_address_per_second():
    fake = FakeTime()
    dos = DosFilter(3, clock=fake.clock, safe_ips={"10.0.0.9"})
    assert [dos.admits("10.0.0.1") for _ in range(5)] == [True, True, True, False, False]
    assert dos.admits("10.0.0.2")  # another client has its own count
    assert all(dos.admits("10.0.0.9") for _ in range(10))  # zimbraHttpThrottleSafeIPs
    fake.now += 0.5
    assert not dos.admits("10.0.0.1")  # refused requests count too: still five in the second
    fake.now += 0.6
    assert dos.admits("10.0.0.1")


# --- against the simulator ------------------------------------------------------------------------


def test_past_its_rate_the_simulator_refuses_like_jetty(sim, served):
    url = served(sim)
    sim.dos_filter(2, status=429, retry_after=4)
    body = (
        '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>'
        '<GetVersionInfoRequest xmlns="urn:zimbraAdmin"/></soap:Body></soap:Envelope>'
    )
    replies = [requests.post(url + "/service/admin/soap", data=body, timeout=2) for _ in range(3)]
    assert [r.status_code for r in replies[:2]] == [500, 500]  # handled (no token): SOAP faults
    refused = replies[2]
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "4"
    assert refused.headers["Content-Type"].startswith("text/html")
    assert "HTTP ERROR 429" in refused.text
    assert len(sim.requests) == 2 and [r["op"] for r in sim.refused] == ["GetVersionInfo"]
    sim.dos_filter(None)
    assert requests.post(url + "/service/admin/soap", data=body, timeout=2).status_code == 500


def test_a_refused_read_is_sent_again_after_retry_after(sim, served):
    url = served(sim)
    sim.dos_filter(1000, retry_after=3)  # high enough never to refuse by rate: only injections
    fake = FakeTime()
    client = admin(url, fake)
    client.authenticate()
    sim.inject("throttle", on="GetQuotaUsage", times=2)

    usage = client.quota_usage("firma.pl")

    assert len(usage.accounts) == 3  # nothing lost
    assert fake.waits == [3.0, 3.0]  # what the server asked, each time
    assert client.counts == {"requests": 4, "throttled": 2, "retries": 2}
    assert [r["op"] for r in sim.refused] == ["GetQuotaUsage", "GetQuotaUsage"]
    assert sim.count("GetQuotaUsage") == 1


def test_without_retry_after_a_refused_read_backs_off_then_fails_naming_the_fix(sim, served):
    url = served(sim)
    fake = FakeTime()
    client = admin(url, fake, retry=RetryPolicy(attempts=3, backoff=0.5))
    client.authenticate()
    sim.inject("throttle", on="SearchDirectory", times=10)  # Jetty's own 503: no Retry-After

    with pytest.raises(ZimbraThrottled) as caught:
        list(client.search_accounts("firma.pl"))

    assert fake.waits == [0.5, 1.0]  # then the third attempt, refused too, is the last
    err = caught.value
    assert err.status == 503 and "still refused after 3 attempts" in str(err)
    assert "max_requests_per_second" in str(err) and "zimbraHttpThrottleSafeIPs" in str(err)
    assert isinstance(err, ZimbraTransportError)  # no reply to use: the sync fails the read
    assert sim.count("SearchDirectory") == 0 and len(sim.refused) == 3


def test_a_refused_write_is_never_sent_again(sim, served):
    url = served(sim)
    sim.dos_filter(1000, retry_after=1)
    fake = FakeTime()
    client = admin(url, fake)
    client.authenticate()
    sim.inject("throttle", on="CreateAccount")

    with pytest.raises(ZimbraThrottled, match="a write is never sent again"):
        client.create_account("new@firma.pl", "secret-123")

    assert fake.waits == [] and [r["op"] for r in sim.refused] == ["CreateAccount"]
    assert "new@firma.pl" not in sim.accounts and sim.count("CreateAccount") == 0
    assert client.counts["retries"] == 0


def test_a_retry_after_beyond_the_deadline_fails_at_once(sim, served):
    """The deadline still bounds a call: a server asking for a minute is not waited for."""
    url = served(sim)
    sim.dos_filter(1000, retry_after=60)
    fake = FakeTime()
    client = admin(url, fake, deadline=5)
    client.authenticate()
    sim.inject("throttle", on="GetQuotaUsage")

    with pytest.raises(ZimbraThrottled, match="asked to wait 60 s") as caught:
        client.quota_usage("firma.pl")

    assert caught.value.retry_after == 60 and fake.waits == []
    assert client.retry.budget == 5  # the budget is the client's deadline


def test_the_budget_bounds_the_waits_of_one_call(sim, served):
    url = served(sim)
    sim.dos_filter(1000, retry_after=2)
    fake = FakeTime()
    client = admin(url, fake, deadline=5)
    client.authenticate()
    sim.inject("throttle", on="GetQuotaUsage", times=10)

    with pytest.raises(ZimbraThrottled):
        client.quota_usage("firma.pl")

    assert fake.waits == [2.0, 2.0]  # a third wait would pass the 5 s budget
    assert len(sim.refused) == 3


def test_a_client_at_its_rate_never_meets_the_filter(sim, served):
    """The same burst: refused when sent at once, all answered when paced under the limit."""
    url = served(sim)
    sim.dos_filter(10)
    eager = admin(url, retry=RetryPolicy(attempts=1))
    eager.authenticate()
    outcomes = []
    for _ in range(14):
        try:
            eager.quota_usage("firma.pl")
            outcomes.append("ok")
        except ZimbraThrottled:
            outcomes.append("refused")
    assert "refused" in outcomes and eager.counts["throttled"] == outcomes.count("refused")

    sim.dos_filter(10)  # a fresh count
    sim.refused.clear()
    paced = admin(url, max_requests_per_second=8)
    paced.authenticate()
    for _ in range(14):
        assert len(paced.quota_usage("firma.pl").accounts) == 3
    assert sim.refused == [] and paced.counts["throttled"] == 0


def test_a_whole_server_read_is_bounded_by_the_deadline(sim, served):
    """The streamed reply is read inside the exchange's deadline: a server that trickles it is cut
    off."""
    url = served(sim)
    sim.trickle_seconds = 0.2
    client = admin(url, timeout=(1.0, 1.0), deadline=1.0)
    client.authenticate()
    sim.inject("trickle", on="GetQuotaUsage")
    rows = []
    with pytest.raises(ZimbraTransportError, match="deadline"):
        client.server_usage(lambda *row: rows.append(row))
    assert rows == []
