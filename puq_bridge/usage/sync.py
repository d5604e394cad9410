"""The usage sync: read mailbox usage from Zimbra, write it to WHMCS, keep the history in the store.

One run:

1. lists the WHMCS services of the configured products and statuses (``GetClientsProducts``, paged)
   and assigns each to the ``[[zimbra]]`` entry serving its WHMCS server; a service with no such
   entry, or no domain, is ``skipped``;
2. reads every server in parallel (up to ``concurrency``): one ``AuthRequest``, one
   system-account query, then by the server's read plan (:mod:`puq_bridge.usage.plan`: a cost
   model over what the store learnt last run, with one GetMailboxStats to count the server's
   accounts when it does not know them):

   - ``server``: one ``GetQuotaUsage`` without a domain (every account homed on the server; in
     pages of ``[sync] page_rows`` only when bigger), streamed and grouped by domain as it
     arrives (:class:`~puq_bridge.usage.plan.DomainRows`): only the mailboxes of the run's domains
     are kept; a domain the reply has no mailbox of is read on its own (it may not exist). A
     private-server service (the product's tenancy ``server``) is the whole server, so a server
     with one is always read this way, once, however many such services it has;
   - ``domain``: one ``GetQuotaUsage`` per domain (``allServers``, ``limit=0``), domains of one
     server in parallel up to ``per_server_concurrency``
     (:func:`~puq_bridge.usage.live.read_usage`).

   Either way a domain that several services share is read once, and the server's client keeps
   to its request rate (``[[zimbra]] max_requests_per_second``), reads refused with HTTP 503/429
   being sent again (:mod:`puq_bridge.zimbra.throttle`);
3. writes ``diskusage``/``disklimit`` (whole MB, rounded up) and ``lastupdate`` to WHMCS only for
   services whose values differ from what WHMCS holds, up to ``concurrency`` writes at a time; a
   service whose read failed gets no write at all (never zeros); one failing server or service does
   not stop the others;
4. records every service's result (failed ones with their error) in the store and prunes it,
   and what it learnt of each server for the next run's plan
   (:meth:`~puq_bridge.usage.store.UsageStore.remember_server_stats`).

Memory: the services are kept as small records of what the sync needs (:class:`Target`), not as
WHMCS's rows; a whole-server reply is never held whole
(:class:`~puq_bridge.zimbra.soap.QuotaReader`) and of its rows only the mailboxes of the run's
domains are kept, as the store records them per service (per-mailbox detail the store keeps
``detail_days`` days, see :mod:`puq_bridge.usage.store`).

A dry run reads everything and writes nothing, neither to WHMCS nor to the store. A real run holds
the store's sync lock (:meth:`~puq_bridge.usage.store.UsageStore.sync_lock`: a file lock beside a
SQLite file, an advisory lock in PostgreSQL), so overlapping runs (cron on several hosts, the
adapter's UsageUpdate) cannot both write.

WHMCS's own UsageUpdate (its daily cron, once per server) takes another way in:
:meth:`SyncEngine.run_listed` gets the server's services as the forwarder read them from
``tblhosting``, reads them exactly as above and records the run in the store, but writes nothing to
WHMCS: the forwarder writes the figures itself through WHMCS's database layer (which takes 0 like
any other value), so that path needs no API credentials.

Zeros: WHMCS's API sets a field only when PHP finds the value non-empty, and ``"0"`` is empty, so a
usage (or a limit) that falls to 0 is sent as ``"00"``
(:meth:`~puq_bridge.whmcs.client.WhmcsClient.update_usage`), which WHMCS's integer column stores as
0. Such a write is read back (one GetClientsProducts, only then): a WHMCS that kept its old figure
makes the service ``failed`` with a message saying so, rather than ``updated`` on every run; the
module's UsageUpdate, which writes through WHMCS's database, lands the 0 there. The store shows the
real 0 either way.

"Last Updated": ``lastupdate`` is sent with each write (only when the figures changed); it is not a
documented field, so a WHMCS that ignores it shows the time its own UsageUpdate last wrote the
figures.

The limit is the service's total space by the rule the client-area tabs use too
(:func:`~puq_bridge.usage.model.service_total_space`): a "Total space…" configurable option the
client chose, else the product's "Total space (GB)" module setting — which GetClientsProducts does
not return, so it is the value the adapter last received and kept in the store
(:meth:`~puq_bridge.usage.store.UsageStore.service_settings`, one query per run, which gives the
tenancy too: unknown is ``domain``) — else the sum of the mailbox quotas (0, unlimited, when one
mailbox is unlimited).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

from puq_bridge.config import DEFAULT_PAGE_ROWS, Config, ZimbraConfig
from puq_bridge.errors import ParamsError, PermissionDenied, PuqBridgeError, StoreError
from puq_bridge.units import MB, bytes_to_mb
from puq_bridge.usage import plan as read_plan
from puq_bridge.usage.live import read_usage
from puq_bridge.usage.model import (
    DomainUsage,
    MailboxTable,
    service_limit_bytes,
    total_space_from_options,
)
from puq_bridge.usage.records import ServerStats, ServiceResult, ServiceSettings
from puq_bridge.usage.report import ServerResult, SyncReport
from puq_bridge.usage.store import UsageStore

log = logging.getLogger(__name__)

#: progress(result, done, total) — called once per service as its result is final.
Progress = Callable[[ServiceResult, int, int], None]
#: a service's result, or its WHMCS write in flight.
Pending = Future | ServiceResult


def describe(err: BaseException, server: str | None = None) -> str:
    """One readable, secret-free line for an error, naming the server when the message does not
    already."""
    text = str(err) if isinstance(err, PuqBridgeError) else f"{type(err).__name__}: {err}"
    text = (text.strip().splitlines() or [type(err).__name__])[0]
    if server and server not in text:
        text = f"{server}: {text}"
    return text


@dataclass(frozen=True, slots=True)
class Target:
    """What the sync needs of one WHMCS service (a GetClientsProducts row is ~30 values; at 100,000
    services those would be hundreds of MB): kept for each listed service instead of the row."""

    id: int
    domain: str
    status: str
    product_id: int
    server_id: int | None
    server_hostname: str
    disk_usage_mb: int
    disk_limit_mb: int
    #: the "Total space…" configurable options only (usually none).
    config_options: dict[str, str]
    #: the WHMCS client (``None`` when the caller's rows did not say)
    client_id: int | None = None

    @classmethod
    def of(cls, svc: Any) -> "Target":
        """From a :class:`~puq_bridge.whmcs.models.Service` or a
        :class:`~puq_bridge.whmcs.params.HostingRow`."""
        options = {
            k: v
            for k, v in (svc.config_options or {}).items()
            if str(k).strip().lower().startswith("total space")
        }
        return cls(
            svc.id,
            svc.domain,
            svc.status,
            svc.product_id,
            svc.server_id,
            svc.server_hostname,
            svc.disk_usage_mb,
            svc.disk_limit_mb,
            options or _NO_OPTIONS,
            svc.client_id,
        )


_NO_OPTIONS: dict[str, str] = {}
_NO_SETTINGS = ServiceSettings()
#: GetClientsProducts rows per request when listing (WHMCS answers any number).
LIST_PAGE = 1000


@dataclass(frozen=True, slots=True)
class _Job:
    service: Target
    entry: ZimbraConfig
    # the product's settings as the adapter kept them in the store
    settings: ServiceSettings = ServiceSettings()
    # False when the store has never seen them (a new or replaced store): see _held_limit
    settings_known: bool = True

    @property
    def tenancy(self) -> str:
        """``server`` when the service's usage is its whole (private) server's, else ``domain``."""
        return "server" if self.settings.private_server else "domain"

    @property
    def scope(self) -> str | None:
        """What to read for this service: its domain (lower case), or ``None`` for every mailbox of
        the server."""
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
    whmcs_writes: bool = True  # False: the caller writes the figures (UsageUpdate), only compare

    def report(self, result: ServiceResult) -> ServiceResult:
        with self.lock:
            self.done += 1
            if self.progress is not None:
                self.progress(result, self.done, self.total)
        return result


class SyncEngine:
    """Reads usage from Zimbra servers and writes it to WHMCS and the store.

    Args:
        whmcs: a :class:`~puq_bridge.whmcs.client.WhmcsClient`.
        servers: the ``[[zimbra]]`` entries.
        zimbra_factory: makes a :class:`~puq_bridge.zimbra.client.ZimbraAdmin` for an entry (called
            once per server per run).
        store: where runs are recorded (``None``: not recorded, and no lock is taken).
        products: WHMCS product ids to sync (empty: all).
        statuses: service statuses to sync.
        concurrency: servers read at once, and WHMCS writes at once.
        per_server_concurrency: domains of one server read at once.
        clock: returns the current aware datetime (tests inject one).
        page_rows: rows per GetQuotaUsage page of a whole-server read.

    The engine uses its clients as they are and never touches their sessions: the adapter shares
    them with concurrent client-area requests. Give them connection pools for ``concurrency``
    (WHMCS) and ``per_server_concurrency`` (each Zimbra) requests at once when building them
    (:func:`~puq_bridge.http.pooled_session`; the CLI's and the adapter's factories do), else
    each request beyond 10 at once to one host opens (and drops) a connection of its own.
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
        ignore: Callable[[Any, str | None], bool] | None = None,
        page_rows: int = DEFAULT_PAGE_ROWS,
    ):
        if concurrency < 1 or per_server_concurrency < 1:
            raise ValueError("concurrency and per_server_concurrency must be at least 1")
        self.page_rows = page_rows
        self.whmcs, self.servers, self.zimbra_factory = whmcs, tuple(servers), zimbra_factory
        self.store, self.products, self.statuses = store, tuple(products), tuple(statuses)
        self.concurrency, self.per_server_concurrency = concurrency, per_server_concurrency
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.ignore = ignore or (lambda server_id, hostname: False)

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
            ignore=sync.ignores,
            page_rows=sync.page_rows,
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
            StoreError: the products' settings could not be read from the store (nothing was
                written).
        """
        names = self._check_servers(only_servers)
        if self.store is None or dry_run:
            return self._run(dry_run, names, only_services, progress, origin=origin)
        with self.store.sync_lock():
            return self._run(dry_run, names, only_services, progress, origin=origin)

    def run_listed(
        self, services: Iterable[Any], *, progress: Progress | None = None
    ) -> SyncReport:
        """A run over services the caller listed instead of WHMCS's API (WHMCS's UsageUpdate: the
        forwarder read one server's services from ``tblhosting``).

        Services are chosen by ``[sync]`` products and statuses as :meth:`run` chooses them, each
        is assigned to one of the engine's servers and read in the same way, and the run is
        recorded in the store; nothing is written to WHMCS. A service is ``updated`` when its
        figures (whole MB, 0 included) differ from the ``disk_usage_mb``/``disk_limit_mb`` it came
        with, else ``unchanged``; the caller writes them.

        Args:
            services: objects with a service's attributes (:class:`~puq_bridge.whmcs.params.
                HostingRow`: ``id, domain, product_id, status, server_id, server_hostname,
                disk_usage_mb, disk_limit_mb, config_options``).
            progress: called as each service's result is final.

        Raises:
            SyncLockedError: another run holds the lock.
            StoreError: the products' settings could not be read from the store.
        """
        listed = [Target.of(svc) for svc in services if self._not_synced(svc) is None]
        if self.store is None:
            return self._run(False, None, None, progress, listed=listed, origin="UsageUpdate")
        with self.store.sync_lock():
            return self._run(False, None, None, progress, listed=listed, origin="UsageUpdate")

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
        listed: list | None = None,
        origin: str = "sync-usage",
    ) -> SyncReport:
        started, t0 = self.clock(), time.monotonic()
        settings = self.store.service_settings() if self.store is not None else {}
        known = self._server_stats()
        services, not_found = (
            self._services(only_services) if listed is None else (listed, [])
        )
        jobs, skipped = self._assign(services, names, settings)
        skipped = not_found + skipped
        by_server = _group(jobs)
        # Three pools made once per run: starting threads is slow when the interpreter is busy, and
        # each ThreadPoolExecutor.submit that starts one holds a lock shared by every executor in
        # the process.
        with (
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="sync-write") as writes,
            ThreadPoolExecutor(
                self.concurrency * self.per_server_concurrency, "sync-read"
            ) as reads,
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="sync-server") as servers,
        ):
            state = _RunState(
                dry_run,
                reads,
                writes,
                progress,
                total=len(skipped) + len(jobs),
                whmcs_writes=listed is None,
            )
            for r in skipped:
                state.report(r)
            futures = [
                servers.submit(self._sync_server, entry, domains, state, known.get(entry.name))
                for entry, domains in by_server.values()
            ]
            outcomes = [f.result() for f in futures]
            pending = [f for services, _, _ in outcomes for f in services]
            results = skipped + [f.result() if isinstance(f, Future) else f for f in pending]
        results.sort(key=lambda r: r.service_id)
        report = SyncReport(started, time.monotonic() - t0, dry_run, results)
        report.servers = sorted((read for _, read, _ in outcomes), key=lambda s: s.server)
        if not dry_run and self.store is not None:
            learnt = [stats for _, _, stats in outcomes if stats is not None]
            report.store_error = self._record(started, results, learnt, origin)
        report.duration_s = time.monotonic() - t0
        log.info("sync: %s in %.1f s", report.totals, report.duration_s)
        return report

    # --- which services ---------------------------------------------------------------------------

    def _services(self, only_services: Iterable[int] | None) -> tuple[list, list[ServiceResult]]:
        """The services to sync, and ``skipped`` results for requested ids that cannot be synced."""
        if only_services is None:
            seen: dict[int, Any] = {}
            for product_id in self.products or (None,):
                for svc in self.whmcs.client_products(product_id=product_id, page_size=LIST_PAGE):
                    if svc.status in self.statuses and svc.id not in seen:
                        seen[svc.id] = Target.of(svc)
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
                services.append(Target.of(found[0]))
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
        # services share a few WHMCS servers: each (id, hostname) is matched once, not per service
        # (100,000 services x 50 entries would be 2.5 million comparisons)
        entries: dict[tuple, ZimbraConfig | None] = {}
        for svc in services:
            where = (svc.server_id, svc.server_hostname)
            if where not in entries:
                entries[where] = next((z for z in self.servers if z.matches(*where)), None)
            entry = entries[where]
            if names is not None and (entry is None or entry.name not in names):
                continue
            if entry is None:
                skipped.append(self._unserved(svc))
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
                known = settings.get(svc.id)
                jobs.append(_Job(svc, entry, known or _NO_SETTINGS, known is not None))
        return jobs, skipped

    def _unserved(self, svc) -> ServiceResult:
        """A service on a WHMCS server no ``[[zimbra]]`` entry serves: skipped when the operator
        said so (``[sync] ignore_servers``), else failed (a typo in ``whmcs_server`` must not
        leave clients' pages stale in silence)."""
        where = " ".join(
            str(x)
            for x in (svc.server_id, f"({svc.server_hostname})" if svc.server_hostname else None)
            if x
        )
        if not where:
            return ServiceResult(
                svc.id,
                svc.domain,
                "",
                "failed",
                error="no server assigned in WHMCS",
                client_id=svc.client_id,
            )
        if self.ignore(svc.server_id, svc.server_hostname):
            reason = f"WHMCS server {where} is in [sync] ignore_servers"
            return ServiceResult(
                svc.id, svc.domain, "", "skipped", error=reason, client_id=svc.client_id
            )
        reason = (
            f"no [[zimbra]] entry for WHMCS server {where}: check whmcs_server of the "
            "[[zimbra]] entries, or list the server in [sync] ignore_servers"
        )
        return ServiceResult(
            svc.id, svc.domain, "", "failed", error=reason, client_id=svc.client_id
        )

    # --- reading and writing ----------------------------------------------------------------------

    def _server_stats(self) -> dict[str, ServerStats]:
        """What the store learnt of each server last run (nothing when it cannot say: the plans
        are then chosen as on a first run)."""
        if self.store is None:
            return {}
        try:
            return self.store.server_stats()
        except StoreError as err:
            log.warning("sync: %s; read plans chosen without the last run's statistics", err)
            return {}

    def _sync_server(
        self,
        entry: ZimbraConfig,
        domains: dict[str | None, list[_Job]],
        state: _RunState,
        known: ServerStats | None,
    ) -> tuple[list[Pending], ServerResult, ServerStats | None]:
        """Authenticate once, choose the read plan, read; returns one future per service, how the
        server was read, and what was learnt of it."""
        client, before = None, {}
        try:
            client = self.zimbra_factory(entry)
            before = _counts(client)
            client.authenticate()
        except Exception as err:
            failed = [
                _done(state.report(self._failed(job, err)))
                for jobs in domains.values()
                for job in jobs
            ]
            sent = _counts(client) if client is not None else {}
            why = f"nothing read: {describe(err, entry.name)}"
            return failed, _server_result(entry.name, None, why, before, sent), None
        names = [d for d in domains if d is not None]
        private = None in domains
        accounts = known.accounts if known else None
        counted_at = known.accounts_at if known else None
        unknown = None
        now = self.clock()
        if not private and read_plan.needs_count(known, len(names), now, entry.read_plan):
            try:
                accounts, counted_at = client.mailbox_stats()[0], now
            except Exception as err:  # a delegated admin may not count: per domain, as before
                accounts, unknown = None, describe(err)
        plan = read_plan.choose(
            len(names),
            private=private,
            accounts=accounts,
            bridge_rows=known.bridge_rows if known else None,
            page_rows=self.page_rows,
            forced=entry.read_plan,
            unknown=unknown,
        )
        tally = _Tally()
        if plan.plan == read_plan.SERVER:
            futures, plan, total = self._read_whole(client, entry, domains, state, tally, plan)
            if total is not None:
                accounts, counted_at = total, now
        else:
            futures = self._read_domains(client, list(domains.items()), state, tally)
        read = _server_result(entry.name, plan.plan, plan.why, before, _counts(client), tally)
        # a failed read says nothing of the bridge's rows: the last run's figure stays
        rows = (known.bridge_rows if known else None) if tally.failed else tally.bridge_rows
        return futures, read, ServerStats(entry.name, accounts, counted_at, rows, len(names))

    def _read_whole(
        self,
        client,
        entry: ZimbraConfig,
        domains: dict[str | None, list[_Job]],
        state: _RunState,
        tally: "_Tally",
        plan: read_plan.ReadPlan,
    ) -> tuple[list[Pending], read_plan.ReadPlan, int | None]:
        """Read the server whole (streamed, grouped by domain); returns the services' futures, the
        plan as it went (a server that refuses a whole read to this admin is read per domain) and
        the server's account count (``None`` when not read)."""
        names = [d for d in domains if d is not None]
        private = None in domains
        try:
            rows = read_plan.DomainRows(names, client.system_accounts(), everything=private)
            whole = client.server_usage(rows.add, page_size=self.page_rows)
        except PermissionDenied as err:
            if private:
                return self._fail_all(domains, err, state, tally), plan, None
            why = f"a whole-server read is refused to this admin ({err.code}): per domain"
            fallback = read_plan.ReadPlan(read_plan.DOMAIN, why, len(names))
            log.info("sync: %s: %s", entry.name, why)
            return self._read_domains(client, list(domains.items()), state, tally), fallback, None
        except Exception as err:
            tally.usage_requests += 1
            return self._fail_all(domains, err, state, tally), plan, None
        tally.add(whole.pages, whole.rows, rows.wanted_rows())
        futures: list[Pending] = []
        alone: list[tuple[str | None, list[_Job]]] = []
        for domain, jobs in domains.items():
            boxes = rows.everyone() if domain is None else rows.of(domain)
            if boxes is None:
                alone.append((domain, jobs))
            else:
                futures.extend(self._finish_all(jobs, DomainUsage.of(domain or "", boxes), state))
        if alone:
            log.info(
                "sync: %s: %d domain(s) not in the whole-server reply, read on their own",
                entry.name,
                len(alone),
            )
            futures.extend(self._read_domains(client, alone, state, tally))
        return futures, plan, whole.total

    def _fail_all(
        self,
        domains: dict[str | None, list[_Job]],
        err: BaseException,
        state: _RunState,
        tally: "_Tally",
    ) -> list[Pending]:
        tally.failed = True
        return [
            _done(state.report(self._failed(job, err))) for jobs in domains.values() for job in jobs
        ]

    def _read_domains(
        self,
        client,
        items: list[tuple[str | None, list[_Job]]],
        state: _RunState,
        tally: "_Tally",
    ) -> list[Pending]:
        """One read per domain (``None``: the whole server once), ``per_server_concurrency`` at
        once."""
        # per_server_concurrency readers take the server's domains one by one from a shared list. At
        # most `concurrency` servers run this at once, so the shared read pool (sized for exactly
        # that) never queues a reader. One task per reader, not per domain: no semaphore hand-off
        # and wake-up per domain (CPU under the GIL).
        todo = items[::-1]

        def reader() -> list[Pending]:
            futures: list[Pending] = []
            while True:
                try:
                    domain, jobs = todo.pop()  # atomic: each domain is read by exactly one reader
                except IndexError:
                    return futures
                futures.extend(self._sync_domain(client, domain, jobs, state, tally))

        readers = [
            state.reads.submit(reader) for _ in range(min(self.per_server_concurrency, len(todo)))
        ]
        return [f for r in readers for f in r.result()]

    def _sync_domain(
        self,
        client,
        domain: str | None,
        jobs: list[_Job],
        state: _RunState,
        tally: "_Tally | None" = None,
    ) -> list[Pending]:
        """One GetQuotaUsage for the domain (``None``: the whole server), then each service's result
        (its write runs in the write pool)."""
        try:
            usage = DomainUsage.of(domain or "", MailboxTable.of(read_usage(client, domain)))
        except Exception as err:
            if tally is not None:
                tally.add(1, 0, 0)
            return [_done(state.report(self._failed(job, err))) for job in jobs]
        if tally is not None:
            n = len(usage.mailboxes)
            tally.add(1, n, n if domain is not None else 0)
        return self._finish_all(jobs, usage, state)

    def _finish_all(self, jobs: list[_Job], usage: DomainUsage, state: _RunState) -> list[Pending]:
        """Each service's result from its usage (a write, when needed, runs in the write pool)."""
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

    def _finish(self, job: _Job, usage: DomainUsage, state: _RunState) -> Pending:
        svc = job.service
        limit = service_limit_bytes(usage, svc.config_options, job.settings.total_space_bytes)
        limit = _held_limit(job, bytes_to_mb(limit)) or limit
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
        if not state.whmcs_writes:
            changed = (used_mb, limit_mb) != (svc.disk_usage_mb, svc.disk_limit_mb)
            return _done(state.report(_with(result, status="updated" if changed else "unchanged")))
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
            if 0 in (used_mb, limit_mb):
                kept = self._zero_kept(result.service_id, used_mb, limit_mb)
                if kept:
                    log.info("sync: service %s: %s", result.service_id, kept)
                    return state.report(_with(result, status="failed", error=kept))
        except Exception as err:
            message = describe(err)
            log.info(
                "sync: service %s: writing usage to WHMCS failed: %s", result.service_id, message
            )
            return state.report(_with(result, status="failed", error=message))
        return state.report(_with(result, status="updated"))

    def _zero_kept(self, service_id: int, used_mb: int, limit_mb: int) -> str | None:
        """After writing a 0: what WHMCS kept instead, if it did not take it (one read, only for the
        rare write of a 0: WHMCS's API skips values PHP finds empty)."""
        svc = self.whmcs.service(service_id)
        for what, wanted, held in (
            ("disk usage", used_mb, svc.disk_usage_mb),
            ("disk limit", limit_mb, svc.disk_limit_mb),
        ):
            if wanted == 0 and held != 0:
                return (
                    f"WHMCS kept {what} {held} MB where Zimbra has 0 MB: its API skipped the 0; "
                    "the module's UsageUpdate (WHMCS's daily cron) writes it"
                )
        return None

    def _record(
        self,
        started: dt.datetime,
        results: list[ServiceResult],
        learnt: list[ServerStats],
        origin: str,
    ) -> str | None:
        try:
            finished = self.clock()
            self.store.record_run(started, finished, results, origin=origin)
            self.store.prune(now=finished)
            self.store.remember_server_stats(learnt, now=finished)
        except StoreError as err:
            log.error("%s", err)
            return str(err)
        return None


def _held_limit(job: _Job, computed_mb: int) -> int | None:
    """WHMCS's own disk limit, in bytes, when this store cannot know the service's total space.

    The product's total space (setting 3) reaches the bridge only with module calls, and the store
    keeps it. A new or replaced store knows nothing yet: computing the limit from the mailbox
    quotas would silently shrink what WHMCS shows (a 10 GB plan becoming 6 GB). So while the store
    has never seen the service's settings, and the client chose no total space, a limit smaller
    than the one WHMCS holds is not written: WHMCS's stays, with a warning saying how the bridge
    learns the setting.
    """
    svc = job.service
    if job.settings_known or total_space_from_options(svc.config_options):
        return None
    if not svc.disk_limit_mb or not 0 < computed_mb < svc.disk_limit_mb:
        return None  # only a limit that would shrink is held: the case of a forgotten setting 3
    log.warning(
        "sync: service %s: the store has not learnt its product's total space yet (a new or "
        "replaced store): WHMCS's disk limit %s MB is kept; open the service page, or use "
        "'Sync usage now', ChangePackage or CreateAccount in WHMCS, for the bridge to learn it",
        svc.id,
        svc.disk_limit_mb,
    )
    return svc.disk_limit_mb * MB


def needs_write(whmcs_used_mb: int, whmcs_limit_mb: int, used_mb: int, limit_mb: int) -> bool:
    """Whether WHMCS must be written: the usage or the limit differs from what it holds (0 included:
    :meth:`~puq_bridge.whmcs.client.WhmcsClient.update_usage` sends it so that it lands)."""
    return (used_mb, limit_mb) != (whmcs_used_mb, whmcs_limit_mb)


def _group(jobs: list[_Job]) -> dict[str, tuple[ZimbraConfig, dict[str | None, list[_Job]]]]:
    """server name -> (entry, domain -> the jobs reading it); domains compared case-insensitively;
    the key ``None`` holds the server's private-server services (one whole-server read)."""
    grouped: dict[str, tuple[ZimbraConfig, dict[str | None, list[_Job]]]] = {}
    for job in jobs:
        _, domains = grouped.setdefault(job.entry.name, (job.entry, {}))
        domains.setdefault(job.scope, []).append(job)
    return grouped


class _Tally:
    """What one server's reads came to: GetQuotaUsage requests, rows read, rows of the run's
    domains (for the next plan), and whether the server's reads failed as a whole."""

    def __init__(self):
        self.usage_requests = self.rows = self.bridge_rows = 0
        self.failed = False
        self._lock = threading.Lock()

    def add(self, requests: int, rows: int, bridge_rows: int) -> None:
        with self._lock:
            self.usage_requests += requests
            self.rows += rows
            self.bridge_rows += bridge_rows


def _counts(client) -> dict[str, int]:
    """A client's request counters (:attr:`~puq_bridge.zimbra.client.ZimbraAdmin.counts`; none for
    a client without them)."""
    counts = getattr(client, "counts", None)
    return dict(counts) if isinstance(counts, dict) else {}


def _server_result(
    server: str,
    plan: str | None,
    why: str,
    before: dict[str, int],
    after: dict[str, int],
    tally: _Tally | None = None,
) -> ServerResult:
    sent = {k: after.get(k, 0) - before.get(k, 0) for k in ("requests", "throttled", "retries")}
    return ServerResult(
        server,
        plan,
        why,
        sent["requests"],
        tally.usage_requests if tally else 0,
        tally.rows if tally else 0,
        sent["throttled"],
        sent["retries"],
    )


def _with(result: ServiceResult, **changes) -> ServiceResult:
    return replace(result, **changes)


def _done(result: ServiceResult) -> ServiceResult:
    """A result that is final already: kept as it is (a Future, with its condition and lock, costs
    ~1 kB; at 100,000 services that counts), only writes in flight are futures."""
    return result
