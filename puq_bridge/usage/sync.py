"""The usage sync: read mailbox usage from Zimbra, write it to WHMCS, keep the history in the store.

One run:

1. lists the WHMCS services of the configured products and statuses (``GetClientsProducts``, paged) and assigns each
   to the ``[[zimbra]]`` entry serving its WHMCS server; a service with no such entry, or no domain, is ``skipped``;
2. reads every server in parallel (up to ``concurrency``): one ``AuthRequest``, then one ``GetQuotaUsage`` per domain
   (``allServers``, ``limit=0``), domains of one server in parallel up to ``per_server_concurrency``; a domain that
   several services share is read once. A private-server service (the product's tenancy ``server``) is the whole
   server: one ``GetQuotaUsage`` without a domain (every mailbox on that server, ``limit=0``) per server, however many
   such services it has, besides the per-domain reads (:func:`~puq_bridge.live.read_usage`);
3. writes ``diskusage``/``disklimit`` (whole MB, rounded up) and ``lastupdate`` to WHMCS only for services whose
   values differ from what WHMCS holds, up to ``concurrency`` writes at a time; a service whose read failed gets no
   write at all (never zeros); one failing server or service does not stop the others;
4. records every service's result (failed ones with their error) in the store and prunes it.

A dry run reads everything and writes nothing, neither to WHMCS nor to the store. A real run holds a file lock next
to the store (:func:`sync_lock`), so overlapping runs (cron, the adapter's UsageUpdate) cannot both write.

"Unchanged" and empty services: WHMCS ignores ``diskusage=0`` (it skips empty values), so a usage that has fallen to
0 MB cannot be written through the API. Such a service counts as unchanged as far as its usage goes — writing would
cost a request on every run and change nothing; its limit is still written when that differs. The store (and so the
client-area tabs) shows the real 0.

The limit is the service's total space by the rule the client-area tabs use too
(:func:`~puq_bridge.usage.service_total_space`): a "Total space…" configurable option the client chose, else the
product's "Total space (GB)" module setting — which GetClientsProducts does not return, so it is the value the
adapter last received and kept in the store (:meth:`~puq_bridge.store.UsageStore.service_settings`, one query per
run, which gives the tenancy too: unknown is ``domain``) — else the sum of the mailbox quotas (0, unlimited, when one
mailbox is unlimited).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from puq_bridge.config import Config, ZimbraConfig
from puq_bridge.errors import ParamsError, PuqBridgeError, StoreError, SyncLockedError
from puq_bridge.units import bytes_to_mb
from puq_bridge.usage.live import read_usage
from puq_bridge.usage.model import DomainUsage, service_limit_bytes
from puq_bridge.usage.records import ServiceResult, ServiceSettings
from puq_bridge.usage.report import SyncReport
from puq_bridge.usage.store import UsageStore

log = logging.getLogger(__name__)

#: progress(result, done, total) — called once per service as its result is final.
Progress = Callable[[ServiceResult, int, int], None]


@contextmanager
def sync_lock(store_path: str | os.PathLike) -> Iterator[Path]:
    """Hold the non-blocking file lock ``<store_path>.lock`` for the duration of a run.

    Raises:
        SyncLockedError: another run (in this or another process) holds it.
    """
    lock_path = Path(f"{os.fspath(store_path)}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            by = f" (pid {holder})" if holder.isdigit() else ""
            raise SyncLockedError(f"another sync-usage run holds the lock {lock_path}{by}") from err
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield lock_path
    finally:
        os.close(fd)


def describe(err: BaseException, server: str | None = None) -> str:
    """One readable, secret-free line for an error, naming the server when the message does not already."""
    text = str(err) if isinstance(err, PuqBridgeError) else f"{type(err).__name__}: {err}"
    text = (text.strip().splitlines() or [type(err).__name__])[0]
    if server and server not in text:
        text = f"{server}: {text}"
    return text


@dataclass(frozen=True)
class _Job:
    service: Any  # whmcs.Service
    entry: ZimbraConfig
    settings: ServiceSettings = (
        ServiceSettings()
    )  # the product's settings as the adapter kept them in the store

    @property
    def tenancy(self) -> str:
        """``server`` when the service's usage is its whole (private) server's, else ``domain``."""
        return "server" if self.settings.private_server else "domain"

    @property
    def scope(self) -> str | None:
        """What to read for this service: its domain (lower case), or ``None`` for every mailbox of the server."""
        return None if self.tenancy == "server" else self.service.domain.strip().lower()


@dataclass
class _RunState:
    dry_run: bool
    reads: ThreadPoolExecutor
    writes: ThreadPoolExecutor
    progress: Progress | None
    total: int
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, result: ServiceResult) -> ServiceResult:
        with self.lock:
            self.done += 1
            if self.progress is not None:
                self.progress(result, self.done, self.total)
        return result


class SyncEngine:
    """Reads usage from Zimbra servers and writes it to WHMCS and the store.

    Args:
        whmcs: a :class:`~puq_bridge.whmcs.WhmcsClient`.
        servers: the ``[[zimbra]]`` entries.
        zimbra_factory: makes a :class:`~puq_bridge.zimbra.ZimbraAdmin` for an entry (called once per server per run).
        store: where runs are recorded (``None``: not recorded, and no lock is taken).
        products: WHMCS product ids to sync (empty: all).
        statuses: service statuses to sync.
        concurrency: servers read at once, and WHMCS writes at once.
        per_server_concurrency: domains of one server read at once.
        clock: returns the current aware datetime (tests inject one).

    The engine uses its clients as they are and never touches their sessions: the adapter shares them with
    concurrent client-area requests. Give them connection pools for ``concurrency`` (WHMCS) and
    ``per_server_concurrency`` (each Zimbra) requests at once when building them
    (:func:`~puq_bridge.http_post.pooled_session`; the CLI's and the adapter's factories do), else each request
    beyond 10 at once to one host opens (and drops) a connection of its own.
    """

    def __init__(
        self,
        whmcs,
        servers: Iterable[ZimbraConfig],
        zimbra_factory: Callable[[ZimbraConfig], Any],
        *,
        store: UsageStore | None = None,
        products: Iterable[int] = (),
        statuses: Iterable[str] = ("Active", "Suspended"),
        concurrency: int = 8,
        per_server_concurrency: int = 4,
        clock: Callable[[], dt.datetime] | None = None,
    ):
        if concurrency < 1 or per_server_concurrency < 1:
            raise ValueError("concurrency and per_server_concurrency must be at least 1")
        self.whmcs, self.servers, self.zimbra_factory = whmcs, tuple(servers), zimbra_factory
        self.store, self.products, self.statuses = store, tuple(products), tuple(statuses)
        self.concurrency, self.per_server_concurrency = concurrency, per_server_concurrency
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    @classmethod
    def from_config(
        cls,
        config: "Config",
        whmcs,
        zimbra_factory: Callable[[ZimbraConfig], Any],
        *,
        store: UsageStore | None = None,
        servers: Iterable[ZimbraConfig] | None = None,
        concurrency: int | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> "SyncEngine":
        """An engine for ``[sync]`` (products, statuses, concurrency) over ``[[zimbra]]``.

        Args:
            config: the loaded configuration.
            whmcs: the WHMCS client.
            zimbra_factory: builds (or returns the cached) client of one server.
            store: where readings are kept (``None``: nothing kept).
            servers: the servers to sync (default: every ``[[zimbra]]`` entry).
            concurrency: services at once (default ``[sync] concurrency``).
            clock: the run's "now" (tests, the demo's past days).
        """
        sync = config.sync
        return cls(
            whmcs,
            config.zimbra if servers is None else servers,
            zimbra_factory,
            store=store,
            products=sync.products,
            statuses=sync.statuses,
            concurrency=concurrency or sync.concurrency,
            per_server_concurrency=sync.per_server_concurrency,
            clock=clock,
        )

    def run(
        self,
        *,
        dry_run: bool = False,
        only_servers: Iterable[str] | None = None,
        only_services: Iterable[int] | None = None,
        progress: Progress | None = None,
        origin: str = "sync-usage",
    ) -> SyncReport:
        """One sync run (see the module docstring).

        Args:
            dry_run: read everything, write nothing (no WHMCS write, no store row, no lock).
            only_servers: limit to these ``[[zimbra]]`` names (the adapter's UsageUpdate).
            only_services: limit to these WHMCS service ids (one service's "sync now").
            progress: called as each service's result is final.
            origin: what ran it, kept with the run in the store (``sync-usage``, ``UsageUpdate``,
                ``SyncUsage``, ``addon``).

        Raises:
            ParamsError: an unknown server name in ``only_servers``.
            SyncLockedError: another run holds the lock.
            WhmcsError: the services could not be listed (nothing was written).
            StoreError: the products' settings could not be read from the store (nothing was written).
        """
        names = self._check_servers(only_servers)
        if self.store is None or dry_run:
            return self._run(dry_run, names, only_services, progress, origin)
        with sync_lock(self.store.path):
            return self._run(dry_run, names, only_services, progress, origin)

    def _check_servers(self, only_servers: Iterable[str] | None) -> set[str] | None:
        if only_servers is None:
            return None
        names = set(only_servers)
        known = {z.name for z in self.servers}
        unknown = sorted(names - known)
        if unknown:
            raise ParamsError(
                f"unknown Zimbra server {', '.join(unknown)} "
                f"(configured: {', '.join(sorted(known)) or 'none'})"
            )
        return names

    def _run(
        self,
        dry_run: bool,
        names: set[str] | None,
        only_services: Iterable[int] | None,
        progress: Progress | None,
        origin: str = "sync-usage",
    ) -> SyncReport:
        started, t0 = self.clock(), time.monotonic()
        settings = self.store.service_settings() if self.store is not None else {}
        services, not_found = self._services(only_services)
        jobs, skipped = self._assign(services, names, settings)
        skipped = not_found + skipped
        by_server = _group(jobs)
        # Three pools made once per run: starting threads is slow when the interpreter is busy, and each
        # ThreadPoolExecutor.submit that starts one holds a lock shared by every executor in the process.
        with (
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="sync-write") as writes,
            ThreadPoolExecutor(
                self.concurrency * self.per_server_concurrency, "sync-read"
            ) as reads,
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="sync-server") as servers,
        ):
            state = _RunState(dry_run, reads, writes, progress, total=len(skipped) + len(jobs))
            for r in skipped:
                state.report(r)
            futures = [
                servers.submit(self._sync_server, entry, domains, state)
                for entry, domains in by_server.values()
            ]
            pending = [f for server in futures for f in server.result()]
            results = skipped + [f.result() for f in pending]
        results.sort(key=lambda r: r.service_id)
        report = SyncReport(started, time.monotonic() - t0, dry_run, results)
        if not dry_run and self.store is not None:
            report.store_error = self._record(started, results, origin)
        report.duration_s = time.monotonic() - t0
        log.info("sync: %s in %.1f s", report.totals, report.duration_s)
        return report

    # --- which services ------------------------------------------------------------------------------------------

    def _services(self, only_services: Iterable[int] | None) -> tuple[list, list[ServiceResult]]:
        """The services to sync, and ``skipped`` results for requested ids that cannot be synced."""
        if only_services is None:
            seen: dict[int, Any] = {}
            for product_id in self.products or (None,):
                for svc in self.whmcs.client_products(product_id=product_id):
                    if svc.status in self.statuses:
                        seen.setdefault(svc.id, svc)
            return list(seen.values()), []
        services, skipped = [], []
        for service_id in dict.fromkeys(int(s) for s in only_services):
            found = list(self.whmcs.client_products(service_id=service_id))
            reason = (
                self._not_synced(found[0]) if found else f"service {service_id} not found in WHMCS"
            )
            if reason:
                domain = found[0].domain if found else ""
                client = found[0].client_id if found else None
                skipped.append(
                    ServiceResult(
                        service_id, domain, "", "skipped", error=reason, client_id=client
                    )
                )
            else:
                services.append(found[0])
        return services, skipped

    def _not_synced(self, svc) -> str | None:
        if self.products and svc.product_id not in self.products:
            return f"product {svc.product_id} is not in [sync] products"
        if svc.status not in self.statuses:
            return f"status {svc.status} is not in [sync] statuses"
        return None

    def _assign(
        self, services: list, names: set[str] | None, settings: dict[int, ServiceSettings]
    ) -> tuple[list[_Job], list[ServiceResult]]:
        jobs, skipped = [], []
        for svc in services:
            entry = next(
                (z for z in self.servers if z.matches(svc.server_id, svc.server_hostname)), None
            )
            if names is not None and (entry is None or entry.name not in names):
                continue
            if entry is None:
                where = " ".join(
                    str(x)
                    for x in (
                        svc.server_id,
                        f"({svc.server_hostname})" if svc.server_hostname else None,
                    )
                    if x
                )
                reason = (
                    f"no [[zimbra]] entry for WHMCS server {where}"
                    if where
                    else "no server assigned in WHMCS"
                )
                skipped.append(
                    ServiceResult(
                        svc.id, svc.domain, "", "skipped", error=reason, client_id=svc.client_id
                    )
                )
            elif not svc.domain.strip():
                skipped.append(
                    ServiceResult(
                        svc.id,
                        "",
                        entry.name,
                        "skipped",
                        error="the service has no domain",
                        client_id=svc.client_id,
                    )
                )
            else:
                jobs.append(_Job(svc, entry, settings.get(svc.id, ServiceSettings())))
        return jobs, skipped

    # --- reading and writing -------------------------------------------------------------------------------------

    def _sync_server(
        self, entry: ZimbraConfig, domains: dict[str | None, list[_Job]], state: _RunState
    ) -> list[Future]:
        """Authenticate once, then read every domain (and the whole server once, key ``None``, for private-server
        services); returns one future per service."""
        try:
            client = self.zimbra_factory(entry)
            client.authenticate()
        except Exception as err:
            return [
                _done(state.report(self._failed(job, err)))
                for jobs in domains.values()
                for job in jobs
            ]
        # per_server_concurrency readers take the server's domains one by one from a shared list. At most
        # `concurrency` servers run this at once, so the shared read pool (sized for exactly that) never queues a
        # reader. One task per reader, not per domain: no semaphore hand-off and wake-up per domain (CPU under the GIL).
        todo = list(domains.items())[::-1]

        def reader() -> list[Future]:
            futures: list[Future] = []
            while True:
                try:
                    domain, jobs = todo.pop()  # atomic: each domain is read by exactly one reader
                except IndexError:
                    return futures
                futures.extend(self._sync_domain(client, domain, jobs, state))

        readers = [
            state.reads.submit(reader) for _ in range(min(self.per_server_concurrency, len(todo)))
        ]
        return [f for r in readers for f in r.result()]

    def _sync_domain(
        self, client, domain: str | None, jobs: list[_Job], state: _RunState
    ) -> list[Future]:
        """One GetQuotaUsage for the domain (``None``: the whole server), then each service's result (its write runs
        in the write pool)."""
        try:
            usage = DomainUsage.of(domain or "", read_usage(client, domain))
        except Exception as err:
            return [_done(state.report(self._failed(job, err))) for job in jobs]
        futures = []
        for job in jobs:
            try:
                futures.append(self._finish(job, usage, state))
            except (
                Exception
            ) as err:  # a reply we cannot use for this service (negative sizes...): only this one
                futures.append(_done(state.report(self._failed(job, err))))
        return futures

    def _failed(self, job: _Job, err: BaseException) -> ServiceResult:
        message = describe(err, job.entry.name)
        log.info(
            "sync: service %s (%s on %s) failed: %s",
            job.service.id,
            job.service.domain,
            job.entry.name,
            message,
        )
        log.debug("sync: failure detail", exc_info=err)
        return ServiceResult(
            job.service.id,
            job.service.domain,
            job.entry.name,
            "failed",
            error=message,
            tenancy=job.tenancy,
            client_id=job.service.client_id,
        )

    def _finish(self, job: _Job, usage: DomainUsage, state: _RunState) -> Future:
        svc = job.service
        limit = service_limit_bytes(usage, svc.config_options, job.settings.total_space_bytes)
        used_mb, limit_mb = bytes_to_mb(usage.used_bytes), bytes_to_mb(limit)
        result = ServiceResult(
            svc.id,
            svc.domain,
            job.entry.name,
            "unchanged",
            usage.used_bytes,
            limit,
            usage.mailboxes,
            tenancy=job.tenancy,
            client_id=svc.client_id,
        )
        if not needs_write(svc.disk_usage_mb, svc.disk_limit_mb, used_mb, limit_mb):
            return _done(state.report(result))
        if state.dry_run:
            return _done(state.report(_with(result, status="updated")))
        return state.writes.submit(self._write, result, used_mb, limit_mb, state)

    def _write(
        self, result: ServiceResult, used_mb: int, limit_mb: int, state: _RunState
    ) -> ServiceResult:
        try:
            # WHMCS keeps lastupdate as its server's wall-clock time: send this host's local time.
            self.whmcs.update_usage(
                result.service_id,
                disk_usage_mb=used_mb,
                disk_limit_mb=limit_mb,
                last_update=self.clock().astimezone(),
            )
        except Exception as err:
            message = describe(err)
            log.info(
                "sync: service %s: writing usage to WHMCS failed: %s", result.service_id, message
            )
            return state.report(_with(result, status="failed", error=message))
        return state.report(_with(result, status="updated"))

    def _record(
        self, started: dt.datetime, results: list[ServiceResult], origin: str
    ) -> str | None:
        try:
            finished = self.clock()
            self.store.record_run(started, finished, results, origin=origin)
            self.store.prune(now=finished)
        except StoreError as err:
            log.error("%s", err)
            return str(err)
        return None


def needs_write(whmcs_used_mb: int, whmcs_limit_mb: int, used_mb: int, limit_mb: int) -> bool:
    """Whether WHMCS must be written: the limit differs, or the usage differs and is not 0 (WHMCS ignores 0)."""
    return limit_mb != whmcs_limit_mb or (used_mb != whmcs_used_mb and used_mb != 0)


def _group(jobs: list[_Job]) -> dict[str, tuple[ZimbraConfig, dict[str | None, list[_Job]]]]:
    """server name -> (entry, domain -> the jobs reading it); domains compared case-insensitively; the key ``None``
    holds the server's private-server services (one whole-server read)."""
    grouped: dict[str, tuple[ZimbraConfig, dict[str | None, list[_Job]]]] = {}
    for job in jobs:
        _, domains = grouped.setdefault(job.entry.name, (job.entry, {}))
        domains.setdefault(job.scope, []).append(job)
    return grouped


def _with(result: ServiceResult, **changes) -> ServiceResult:
    return replace(result, **changes)


def _done(result: ServiceResult) -> Future:
    future: Future = Future()
    future.set_result(result)
    return future
