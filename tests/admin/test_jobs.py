"""The addon page's background work: one sync at a time with its progress, tests per server, and
checks that are refreshed in the background when stale; errors are kept scrubbed."""

import datetime as dt
import threading
from types import SimpleNamespace

from puq_bridge.admin.jobs import AdminJobs, BackgroundCheck
from puq_bridge.errors import ZimbraError

T0 = dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def jobs_with(sync=None, test=None, domains=None, **kw):
    return AdminJobs(
        sync=sync or (lambda server, progress: SimpleNamespace(totals={}, store_error=None)),
        test=test or (lambda server: "10.0.8_GA"),
        domains=domains or (lambda server: ["a.pl"]),
        **kw,
    )


def test_a_sync_reports_progress_and_a_second_one_waits_for_it():
    release = threading.Event()
    seen = []

    def sync(server, progress):
        progress(1, 4)
        seen.append(server)
        release.wait(5)
        progress(4, 4)
        return SimpleNamespace(totals={"updated": 3, "failed": 1}, store_error=None)

    jobs = jobs_with(sync=sync)
    first, started = jobs.start_sync("mail1", by="admin 1")
    assert started and first.running
    again, started_again = jobs.start_sync(None)
    assert not started_again and again.id == first.id
    release.set()
    assert jobs.wait(5)
    done = jobs.job(first.id)
    assert (done.state, done.totals, done.done, done.total) == (
        "done",
        {"updated": 3, "failed": 1},
        4,
        4,
    )
    assert seen == ["mail1"] and done.percent == 100.0 and done.seconds is not None


def test_a_failed_sync_keeps_a_scrubbed_one_line_error():
    def sync(server, progress):
        raise ZimbraError("mail1", "Auth", "refused for s3cr3t-pass\nsecond line")

    jobs = jobs_with(sync=sync, scrub=lambda text: text.replace("s3cr3t-pass", "********"))
    job, _ = jobs.start_sync(None)
    jobs.wait(5)
    failed = jobs.job(job.id)
    assert failed.state == "failed"
    assert failed.error == "Zimbra mail1 Auth: refused for ********"


def test_a_bug_in_a_job_is_named_by_its_type_only():
    def test(server):
        raise KeyError("internal detail")

    jobs = jobs_with(test=test)
    job, _ = jobs.start_test("mail1")
    jobs.wait(5)
    assert jobs.tests()["mail1"].error == "internal error (KeyError); see the puq-bridge log"


def test_a_test_per_server_at_a_time():
    release = threading.Event()

    def test(server):
        release.wait(5)
        return f"10.0.8_GA on {server}"

    jobs = jobs_with(test=test)
    first, started = jobs.start_test("mail1")
    _, again = jobs.start_test("mail1")
    _, other = jobs.start_test("mail2")
    assert started and not again and other
    release.set()
    jobs.wait(5)
    assert jobs.tests()["mail1"].detail == "10.0.8_GA on mail1"
    assert [j.kind for j in jobs.jobs()] == ["test", "test"]


def test_old_jobs_are_forgotten():
    jobs = jobs_with(keep=3)
    for _ in range(5):
        jobs.start_sync(None)
        jobs.wait(5)
    assert len(jobs.jobs()) <= 4


def test_a_check_refreshes_in_the_background_when_stale():
    clock, calls, release = Clock(), [], threading.Event()

    def fetch():
        release.wait(5)
        calls.append(clock.now)
        return len(calls)

    check = BackgroundCheck(fetch, name="t", ttl=600, retry_after=60, clock=clock)
    first = check.get()  # nothing known yet: a refresh starts, the page does not wait for it
    assert first.value is None and first.running
    release.set()
    check.wait(5)
    assert check.get().value == 1 and len(calls) == 1
    clock.now += dt.timedelta(seconds=599)
    assert check.get().value == 1 and len(calls) == 1  # still fresh
    clock.now += dt.timedelta(seconds=2)
    check.get()
    check.wait(5)
    assert check.get(refresh=False).value == 2


def test_a_failed_check_keeps_the_old_value_and_retries_later():
    down = ZimbraError("mail1", "GetAllDomains", "down")
    clock, answers = Clock(), iter([["a.pl"], down, ["a.pl", "b.pl"]])

    def fetch():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    check = BackgroundCheck(fetch, name="t", ttl=10, retry_after=60, clock=clock)
    check.refresh()
    check.wait(5)
    clock.now += dt.timedelta(seconds=11)
    check.get()
    check.wait(5)
    state = check.get(refresh=False)
    assert state.value == ["a.pl"] and state.error == "Zimbra mail1 GetAllDomains: down"
    clock.now += dt.timedelta(seconds=30)
    check.get()
    check.wait(5)
    assert check.get(refresh=False).error.endswith("down")  # not retried before retry_after
    clock.now += dt.timedelta(seconds=31)
    check.get()
    check.wait(5)
    assert check.get(refresh=False).value == ["a.pl", "b.pl"]


def test_domains_are_read_per_server_lower_case_and_refreshed_after_a_sync():
    reads = []

    def domains(server):
        reads.append(server)
        return ["Firma.PL"]

    jobs = jobs_with(domains=domains)
    jobs.domains("mail1")
    jobs.wait(5)
    assert jobs.domains("mail1").value == frozenset({"firma.pl"})
    jobs.start_sync("mail1")
    jobs.wait(5)
    assert reads == ["mail1", "mail1"]
