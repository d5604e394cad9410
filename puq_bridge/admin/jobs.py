"""Background work of the addon page: "Sync now" and "Test now" jobs, and the live checks the page
shows beside the store's figures (each Zimbra's domain list, WHMCS's servers).

A page never waits for any of them. An action starts a job in a daemon thread and the page shows its
progress; a check that is missing or older than its time to live is refreshed in the background
while the page shows what is known (with its time). At most one sync job runs at a time (the sync's
file lock also keeps it apart from cron's run), and a server has at most one test running.
Error texts pass through ``scrub`` (the adapter masks its secrets there) before anything keeps them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from puq_bridge.errors import PuqBridgeError

log = logging.getLogger(__name__)

#: sync(server or None for all, progress(done, total)) -> the run's report (``totals``,
#: ``store_error``); raises PuqBridgeError when the run could not start or list the services.
SyncRunner = Callable[[str | None, Callable[[int, int], None]], Any]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def describe(err: BaseException) -> str:
    """One line for an error: the library's message, or the type of an unexpected one."""
    if isinstance(err, PuqBridgeError):
        lines = str(err).strip().splitlines()
        return lines[0] if lines else type(err).__name__
    return f"internal error ({type(err).__name__}); see the puq-bridge log"


@dataclass(frozen=True)
class JobView:
    """What the page shows of a job (a copy: the job itself goes on in its thread)."""

    id: int
    kind: str  # "sync" | "test"
    server: str | None  # None: every configured server
    started: dt.datetime
    finished: dt.datetime | None = None
    done: int = 0
    total: int = 0
    state: str = "running"  # "running" | "done" | "failed"
    totals: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    detail: str | None = None

    @property
    def running(self) -> bool:
        """True until the job has ended."""
        return self.state == "running"

    @property
    def percent(self) -> float | None:
        """How far a sync has got, in percent (``None`` while the services are being listed)."""
        if self.total <= 0:
            return 100.0 if not self.running else None
        return min(self.done * 100.0 / self.total, 100.0)

    @property
    def seconds(self) -> float | None:
        """How long the job took (``None`` while it runs)."""
        if self.finished is None:
            return None
        return max((self.finished - self.started).total_seconds(), 0.0)


@dataclass(frozen=True)
class Checked:
    """The newest answer of a background check: its value and time, and the error of a later
    failed attempt; ``running`` while a refresh is under way."""

    value: Any = None
    at: dt.datetime | None = None
    error: str | None = None
    error_at: dt.datetime | None = None
    running: bool = False


class BackgroundCheck:
    """One value fetched in a daemon thread and kept ``ttl`` seconds (``retry_after`` after a
    failure); :meth:`get` never waits.

    Args:
        fetch: returns the value (raises on failure).
        name: for the log and the thread.
        ttl: seconds an answer is fresh.
        retry_after: seconds before a failed fetch is tried again.
        clock: the current aware datetime.
        scrub: masks secrets in error texts.
    """

    def __init__(
        self,
        fetch: Callable[[], Any],
        *,
        name: str,
        ttl: float = 600.0,
        retry_after: float = 60.0,
        clock: Callable[[], dt.datetime] = _now,
        scrub: Callable[[str], str] = str,
    ):
        self._fetch, self.name, self.ttl, self.retry_after = fetch, name, ttl, retry_after
        self._clock, self._scrub = clock, scrub
        self._state = Checked()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def get(self, *, refresh: bool = True) -> Checked:
        """What is known now; starts a background refresh when it is missing or stale."""
        state = self._state
        if refresh and not state.running and self._stale(state):
            self.refresh()
            state = self._state
        return state

    def _stale(self, state: Checked) -> bool:
        now = self._clock()
        if state.error_at is not None and (state.at is None or state.error_at >= state.at):
            return (now - state.error_at).total_seconds() >= self.retry_after
        return state.at is None or (now - state.at).total_seconds() >= self.ttl

    def refresh(self) -> None:
        """Start a fetch in the background (none when one is under way)."""
        with self._lock:
            if self._state.running:
                return
            self._state = replace(self._state, running=True)
            self._thread = threading.Thread(
                target=self._run, name=f"addon-{self.name}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        try:
            value = self._fetch()
        except Exception as err:  # kept and shown; a bug must not end the checks for good
            message = self._scrub(describe(err))
            log.warning("addon: %s failed: %s", self.name, message)
            self._state = replace(self._state, error=message, error_at=self._clock(), running=False)
            return
        self._state = Checked(value, self._clock())

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a refresh under way; whether none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True


class AdminJobs:
    """The addon page's jobs and checks, for one bridge process; thread-safe.

    Args:
        sync: runs one sync (see :data:`SyncRunner`).
        test: authenticates against a server and returns its version text (raises on failure).
        domains: a server's domain names, read from its Zimbra.
        whmcs_servers: WHMCS's servers (``None``: the bridge has no WHMCS API).
        clock: the current aware datetime.
        scrub: masks secrets in error texts.
        domains_ttl, servers_ttl: seconds the domain lists and WHMCS's servers stay fresh.
        keep: how many finished jobs are remembered.
    """

    def __init__(
        self,
        *,
        sync: SyncRunner,
        test: Callable[[str], str],
        domains: Callable[[str], list[str]],
        whmcs_servers: Callable[[], list] | None = None,
        clock: Callable[[], dt.datetime] = _now,
        scrub: Callable[[str], str] = str,
        domains_ttl: float = 600.0,
        servers_ttl: float = 300.0,
        keep: int = 20,
    ):
        self._sync, self._test, self._list_domains = sync, test, domains
        self._clock, self._scrub, self.keep = clock, scrub, keep
        self.domains_ttl = domains_ttl
        self._jobs: dict[int, JobView] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._next = 1
        self._lock = threading.Lock()
        self._domains: dict[str, BackgroundCheck] = {}
        self._tests: dict[str, JobView] = {}
        self.whmcs_servers = (
            BackgroundCheck(
                whmcs_servers, name="whmcs-servers", ttl=servers_ttl, clock=clock, scrub=scrub
            )
            if whmcs_servers is not None
            else None
        )

    # --- jobs ----------------------------------------------------------------------------------

    def start_sync(self, server: str | None, *, by: str = "") -> tuple[JobView, bool]:
        """Start a sync of ``server`` (``None``: all); returns the job and whether it started
        (``False``: another sync job is running, which is returned)."""
        with self._lock:
            running = next((j for j in self._jobs.values() if j.kind == "sync" and j.running), None)
            if running is not None:
                return running, False
            job = self._new("sync", server)
        log.info("addon: sync of %s started%s", server or "every server", f" by {by}" if by else "")
        self._start(job, self._run_sync)
        return job, True

    def start_test(self, server: str, *, by: str = "") -> tuple[JobView, bool]:
        """Start a test (Auth + GetVersionInfo) of ``server``; ``False`` when one is running."""
        with self._lock:
            running = self._tests.get(server)
            if running is not None and running.running:
                return running, False
            job = self._new("test", server)
            self._tests[server] = job
        log.info("addon: test of %s started%s", server, f" by {by}" if by else "")
        self._start(job, self._run_test)
        return job, True

    def _new(self, kind: str, server: str | None) -> JobView:
        job = JobView(self._next, kind, server, self._clock())
        self._next += 1
        self._jobs[job.id] = job
        for old in sorted(self._jobs)[: max(len(self._jobs) - self.keep, 0)]:
            if not self._jobs[old].running:
                del self._jobs[old]
                self._threads.pop(old, None)
        return job

    def _start(self, job: JobView, target: Callable[[JobView], None]) -> None:
        thread = threading.Thread(
            target=target, args=(job,), name=f"addon-{job.kind}-{job.id}", daemon=True
        )
        with self._lock:
            self._threads[job.id] = thread
        thread.start()

    def _update(self, job_id: int, **changes: Any) -> JobView:
        with self._lock:
            job = self._jobs[job_id] = replace(self._jobs[job_id], **changes)
            if job.kind == "test" and job.server is not None:
                self._tests[job.server] = job
            return job

    def _run_sync(self, job: JobView) -> None:
        def progress(done: int, total: int) -> None:
            self._update(job.id, done=done, total=total)

        try:
            report = self._sync(job.server, progress)
        except Exception as err:
            message = self._scrub(describe(err))
            log.warning("addon: sync of %s failed: %s", job.server or "every server", message)
            self._update(job.id, state="failed", error=message, finished=self._clock())
            return
        totals = dict(getattr(report, "totals", {}) or {})
        store_error = getattr(report, "store_error", None)
        total = sum(totals.values())
        self._update(
            job.id,
            state="failed" if store_error else "done",
            totals=totals,
            done=total,
            total=total,
            error=self._scrub(store_error) if store_error else None,
            finished=self._clock(),
        )
        for name in self._domains:
            if job.server is None or job.server == name:
                self._domains[name].refresh()

    def _run_test(self, job: JobView) -> None:
        try:
            detail = self._test(job.server)
        except Exception as err:
            message = self._scrub(describe(err))
            self._update(job.id, state="failed", error=message, finished=self._clock())
            return
        self._update(job.id, state="done", detail=detail, finished=self._clock())

    def jobs(self) -> list[JobView]:
        """Every remembered job, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.id, reverse=True)

    def job(self, job_id: int) -> JobView | None:
        """One job by id."""
        with self._lock:
            return self._jobs.get(job_id)

    def tests(self) -> dict[str, JobView]:
        """server name -> its latest test job."""
        with self._lock:
            return dict(self._tests)

    def wait(self, timeout: float | None = 30.0) -> bool:
        """Wait for every job and check under way (tests, the demo); whether all have ended."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)
        checks = list(self._domains.values())
        if self.whmcs_servers is not None:
            checks.append(self.whmcs_servers)
        done = [c.wait(timeout) for c in checks]
        return all(not t.is_alive() for t in threads) and all(done)

    # --- checks --------------------------------------------------------------------------------

    def domains(self, server: str, *, refresh: bool = True) -> Checked:
        """The domain names on ``server`` as last read (a frozenset), refreshed when stale."""
        with self._lock:
            check = self._domains.get(server)
            if check is None:
                check = self._domains[server] = BackgroundCheck(
                    lambda: frozenset(d.lower() for d in self._list_domains(server)),
                    name=f"domains-{server}",
                    ttl=self.domains_ttl,
                    clock=self._clock,
                    scrub=self._scrub,
                )
        return check.get(refresh=refresh)
