"""Whole-server GetQuotaUsage: the reply parsed as a stream (:class:`QuotaReader`) and read in
overlapping pages that notice an account list changing under them."""

import pytest

from puq_bridge.errors import AuthExpired, ZimbraProtocolError
from puq_bridge.simulators.zimbra.app import FakeZimbra, populate
from puq_bridge.simulators.zimbra.wire import SOAP11, SOAP12, envelope, quota_usage_envelope
from puq_bridge.zimbra.client import ZimbraAdmin, parse_quota_usage
from puq_bridge.zimbra.soap import QuotaReader
from tests.support.zimbra import CAPTURES, ZIMBRA_ADMIN, ZIMBRA_PASSWORD


def read(body: bytes, chunk: int) -> tuple[list[tuple], bool, int]:
    rows: list[tuple] = []
    reader = QuotaReader("mail1", lambda *row: rows.append(row))
    for i in range(0, len(body), chunk):
        reader.feed(body[i : i + chunk])
    more, total = reader.close()
    return rows, more, total


@pytest.mark.parametrize("chunk", [1, 7, 4096, 10**9])
@pytest.mark.parametrize("soap_ns", [SOAP11, SOAP12])
def test_the_stream_reads_what_the_whole_document_parser_reads(chunk, soap_ns):
    body = quota_usage_envelope(300, soap_ns=soap_ns)
    rows, more, total = read(body, chunk)
    whole = parse_quota_usage(body)
    assert rows == [(m.name, m.id, m.used_bytes, m.limit_bytes) for m in whole.accounts]
    assert (more, total) == (whole.more, whole.total) == (False, 300)


def test_the_real_capture_streams_too():
    body = (CAPTURES / "GetQuotaUsageResponse.xml").read_bytes()
    rows, more, total = read(body, 64)
    assert len(rows) == total == 14 and not more
    assert all(isinstance(used, int) and isinstance(limit, int) for _, _, used, limit in rows)


def test_a_fault_a_cut_reply_and_bad_numbers_are_errors_not_rows():
    fault = envelope(
        SOAP12,
        b"<soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code><soap:Reason>"
        b"<soap:Text>auth credentials have expired</soap:Text></soap:Reason><soap:Detail>"
        b'<Error xmlns="urn:zimbra"><Code>service.AUTH_EXPIRED</Code></Error></soap:Detail>'
        b"</soap:Fault>",
    )
    with pytest.raises(AuthExpired):
        read(fault, 100)
    body = quota_usage_envelope(50)
    with pytest.raises(ZimbraProtocolError, match="not XML"):
        read(body[: len(body) // 2], 100)
    with pytest.raises(ZimbraProtocolError, match="not a number"):
        read(body.replace(b'used="', b'used="x', 1), 100)
    with pytest.raises(ZimbraProtocolError, match="not a SOAP envelope"):
        read(b"<html><body>502</body></html>", 100)
    other = envelope(SOAP11, b'<GetVersionInfoResponse xmlns="urn:zimbraAdmin"/>')
    with pytest.raises(ZimbraProtocolError, match="unexpected reply element"):
        read(other, 100)


class ChangingZimbra(FakeZimbra):
    """Accounts appear and disappear between two GetQuotaUsage pages (``changes``: one callable per
    page answered, run after it)."""

    changes: list = []

    def op_quota_usage(self, body):
        reply = super().op_quota_usage(body)
        if self.changes:
            self.changes.pop(0)(self)
        return reply

    OPS = {**FakeZimbra.OPS, "GetQuotaUsage": op_quota_usage}


def whole(url, page_size):
    client = ZimbraAdmin(
        url, ZIMBRA_ADMIN, ZIMBRA_PASSWORD, name="mail1", timeout=2, max_requests_per_second=None
    )
    rows: list[tuple] = []
    result = client.server_usage(lambda *row: rows.append(row), page_size=page_size)
    return result, rows


def test_one_request_or_pages_give_every_account_once(served):
    sim = FakeZimbra(ZIMBRA_ADMIN, ZIMBRA_PASSWORD)
    for d in range(3):
        populate(sim, f"d{d}.pl", 7, seed=d)
    url = served(sim)
    everyone = sorted(sim.accounts)

    one, rows = whole(url, 0)
    assert (one.total, one.pages, one.rows) == (21, 1, 21)
    assert sorted(r[0] for r in rows) == everyone

    paged, rows = whole(url, 8)  # 4 rows of overlap: 8, then 4 new rows a page
    assert [r[0] for r in rows] == everyone  # by name, each once
    assert (paged.total, paged.rows, paged.pages) == (21, 21, 5)
    pages = [r["attrs"] for r in sim.requests if r["op"] == "GetQuotaUsage"][1:]
    assert [p["offset"] for p in pages] == ["0", "4", "8", "12", "16"]
    assert all(p["limit"] == "8" and p["sortBy"] == "account" and "domain" not in p for p in pages)


def test_accounts_deleted_and_created_between_pages_shift_nothing_out_of_sight(served):
    sim = ChangingZimbra(ZIMBRA_ADMIN, ZIMBRA_PASSWORD)
    populate(sim, "a.pl", 20)
    first = sorted(sim.accounts)

    def churn(s):  # two accounts before the next page's offset go, one comes
        for name in first[:2]:
            del s.accounts[name]
        s.add_account("aaa@a.pl", used=5)

    sim.changes = [churn]
    url = served(sim)
    _, rows = whole(url, 10)
    names = [r[0] for r in rows]
    assert len(names) == len(set(names))  # no account twice
    assert set(first) <= set(names)  # none missed (the two deleted ones were read before)
    assert "aaa@a.pl" not in names  # created before the offset after its page: next run's


def test_a_list_that_moved_more_than_the_overlap_fails_the_read(served):
    sim = ChangingZimbra(ZIMBRA_ADMIN, ZIMBRA_PASSWORD)
    populate(sim, "a.pl", 40)
    first = sorted(sim.accounts)

    def purge(s):
        for name in first[:15]:
            del s.accounts[name]

    sim.changes = [purge]
    url = served(sim)
    with pytest.raises(ZimbraProtocolError, match="changed by more than 5 accounts"):
        whole(url, 10)
