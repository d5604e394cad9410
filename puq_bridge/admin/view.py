"""The addon page's plain data: what the templates get, built from the store, the configured
servers, and the jobs' and checks' state (no I/O beyond the store's indexed reads).

Every table is paged (:class:`Pager`). The usage overview sorts each service's latest reading once
per recorded run (:class:`UsageOverview`, cached by the caller), so a page over 10,000 services
costs one pass over a cached list, not a scan of the store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import urlsplit

from puq_bridge.admin.jobs import Checked, JobView
from puq_bridge.admin.query import AddonRequest
from puq_bridge.usage.store_overview import ClientAction, RunSummary, SampleRow, ServerRun

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.admin.jobs import AdminJobs
    from puq_bridge.config import ZimbraConfig
    from puq_bridge.usage.store import UsageStore

PAGE_SIZE = 10
#: a domain at or above this share of its limit is "nearly full" (shown in red; amber from WARN).
NEARLY_FULL, WARN = 90.0, 75.0
#: failed and skipped services shown under each run before "N more".
PROBLEMS_SHOWN = 3


@dataclass(frozen=True)
class Pager:
    """One table's page: 1-based ``page`` of ``pages``, ``total`` rows, ``size`` a page, and the
    query field that holds the page number."""

    page: int
    total: int
    size: int
    field: str

    @classmethod
    def of(cls, asked: int, total: int, size: int, name: str) -> "Pager":
        """The page asked for, moved into range."""
        pages = max((total + size - 1) // size, 1)
        return cls(min(max(asked, 1), pages), total, size, name)

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1)."""
        return max((self.total + self.size - 1) // self.size, 1)

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.size

    def rows(self, items: Sequence) -> Sequence:
        """This page's part of ``items``."""
        return items[self.offset : self.offset + self.size]


@dataclass(frozen=True)
class UsageOverview:
    """Each service's latest sample and latest reading, sorted for the page; built once per
    recorded run (``run_id``) by :meth:`build`."""

    run_id: int
    latest: tuple[SampleRow, ...]
    nearest: tuple[SampleRow, ...]  # with a limit, fullest first
    largest: tuple[SampleRow, ...]  # most used first
    #: the comparisons with Zimbra's domain lists, kept per state of those lists (see compare()).
    _compared: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, store: "UsageStore") -> "UsageOverview":
        """Read and sort: each service's newest sample (one pass over an index), and an older
        reading only for the services whose newest sample has none (a failed read)."""
        run_id = store.last_run_id()
        latest = tuple(store.latest_samples())
        found = {s.service_id: s for s in latest if s.used_bytes is not None}
        without = [s.service_id for s in latest if s.used_bytes is None]
        for start in range(0, len(without), 500):
            found.update(
                (s.service_id, s) for s in store.latest_readings(without[start : start + 500])
            )
        readings = sorted(found.values(), key=lambda r: r.service_id)
        nearest = sorted(
            (r for r in readings if r.percent is not None),
            key=lambda r: (-r.percent, r.service_id),
        )
        largest = sorted(readings, key=lambda r: (-(r.used_bytes or 0), r.service_id))
        return cls(run_id, latest, tuple(nearest), tuple(largest))

    def compare(
        self, checked: dict[str, Checked], admins: dict[str, str]
    ) -> tuple[list["MissingRow"], list["OrphanRow"], list[str]]:
        """The services Zimbra does not know, the domains no service points to, and the private
        servers, against the domain lists in ``checked``; worked out once per state of those
        lists (a page over 10,000 services does not walk them on every view)."""
        key = tuple(sorted((name, c.at) for name, c in checked.items()))
        found = self._compared.get(key)
        if found is None:
            known = {name: c.value for name, c in checked.items() if c.value is not None}
            private = sorted({s.server for s in self.latest if s.tenancy == "server" and s.server})
            found = (
                _missing(self.latest, known),
                _orphans(self.latest, known, set(private), admins),
                private,
            )
            self._compared.clear()  # one state at a time: the lists only move forward
            self._compared[key] = found
        return found


@dataclass(frozen=True)
class RunRow:
    """A run in the runs table, with its first failed or skipped services."""

    run: RunSummary
    problems: tuple[SampleRow, ...]


@dataclass(frozen=True)
class RunsSection:
    """Sync runs: the last of ``sync-usage`` and of WHMCS's UsageUpdate, the runs table (paged,
    filterable by origin), and one run's failed and skipped services when asked for."""

    last_sync_usage: RunSummary | None
    last_usage_update: RunSummary | None
    rows: tuple[RunRow, ...]
    pager: Pager
    origin: str | None
    expanded: RunSummary | None = None
    expanded_rows: tuple[SampleRow, ...] = ()
    expanded_pager: Pager | None = None


@dataclass(frozen=True)
class ServerRow:
    """A Zimbra the bridge knows (configured, or known from WHMCS or the store) with its state."""

    name: str
    host: str
    whmcs_server: str
    configured: bool
    source: str  # "config" | "whmcs" | "store"
    last_run: ServerRun | None
    test: JobView | None
    domains: Checked | None
    sync_running: bool = False

    @property
    def state(self) -> str:
        """``ok``, ``partial`` (some services failed), ``failed`` (all did), or ``never``."""
        run = self.last_run
        if run is None or run.total == 0:
            return "never"
        failed = run.counts.get("failed", 0)
        if failed == 0:
            return "ok"
        return "failed" if failed == run.total else "partial"


@dataclass(frozen=True)
class MissingRow:
    """A WHMCS service whose domain Zimbra does not know (or which the bridge cannot map)."""

    sample: SampleRow
    reason: str  # "not_on_server" | "no_such_domain" | "skipped"
    detail: str | None = None


@dataclass(frozen=True)
class OrphanRow:
    """A domain on a Zimbra that no service's latest sample points to."""

    server: str
    domain: str


@dataclass(frozen=True)
class UsageSection:
    """The usage overview: nearest the limit, largest, services Zimbra does not know, domains no
    service points to (with when each server's domains were read)."""

    nearest: tuple[SampleRow, ...]
    nearest_pager: Pager
    largest: tuple[SampleRow, ...]
    largest_pager: Pager
    missing: tuple[MissingRow, ...]
    missing_pager: Pager
    orphans: tuple[OrphanRow, ...]
    orphans_pager: Pager
    checked: dict[str, Checked]
    private: tuple[str, ...]  # servers a private-server service covers whole
    mailboxes: dict[int, int] = field(default_factory=dict)  # sample id -> mailbox count


@dataclass(frozen=True)
class ActionsSection:
    """Client actions' audit (paged, filterable by service)."""

    rows: tuple[ClientAction, ...]
    pager: Pager
    service: int | None


@dataclass(frozen=True)
class AdminView:
    """Everything the addon page shows."""

    request: AddonRequest
    now: dt.datetime
    has_store: bool
    runs: RunsSection | None
    servers: tuple[ServerRow, ...]
    usage: UsageSection | None
    actions: ActionsSection | None
    jobs: tuple[JobView, ...]
    bridge_version: str
    notice: tuple[str, dict[str, Any]] | None = None  # (catalog key, values) of an action's outcome

    @property
    def running(self) -> JobView | None:
        """The sync job under way, if any."""
        return next((j for j in self.jobs if j.kind == "sync" and j.running), None)

    @property
    def busy(self) -> bool:
        """True while a job runs or a server's domains are being read (the page then reloads
        itself to show the progress and the outcome)."""
        reading = any(s.domains is not None and s.domains.running for s in self.servers)
        return reading or any(j.running for j in self.jobs)

    @property
    def versions_differ(self) -> bool:
        """True when the generated PHP is not this bridge's version (or did not say)."""
        return self.request.version != self.bridge_version


def host_of(url: str) -> str:
    """``host:port`` of a URL (never its user or password)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def build_view(
    request: AddonRequest,
    *,
    store: "UsageStore | None",
    servers: Sequence["ZimbraConfig"],
    jobs: "AdminJobs",
    overview: UsageOverview | None,
    bridge_version: str,
    now: dt.datetime,
    notice: tuple[str, dict[str, Any]] | None = None,
    page_size: int = PAGE_SIZE,
) -> AdminView:
    """The page's data for ``request`` (``overview``: the cached :class:`UsageOverview`)."""
    q = request.query
    job_list = tuple(jobs.jobs())
    sampled = store.server_runs() if store is not None else {}
    rows = _server_rows(servers, sampled, jobs, request.module, job_list)
    usage = actions = runs = None
    if store is not None:
        runs = _runs(store, q, page_size)
        if overview is not None:
            usage = _usage(store, overview, rows, servers, q, page_size)
        total = store.count_client_actions(service_id=q.service)
        pager = Pager.of(q.actions, total, page_size, "actions")
        found = store.client_actions(service_id=q.service, limit=page_size, offset=pager.offset)
        actions = ActionsSection(tuple(found), pager, q.service)
    return AdminView(
        request,
        now,
        store is not None,
        runs,
        rows,
        usage,
        actions,
        job_list,
        bridge_version,
        notice,
    )


def _runs(store: "UsageStore", q, size: int) -> RunsSection:
    pager = Pager.of(q.runs, store.count_runs(origin=q.origin), size, "runs")
    rows = tuple(
        RunRow(run, tuple(store.run_problems(run.id, limit=PROBLEMS_SHOWN)) if run.problems else ())
        for run in store.runs(origin=q.origin, limit=size, offset=pager.offset)
    )
    last = {
        origin: next(iter(store.runs(origin=origin, limit=1)), None)
        for origin in ("sync-usage", "UsageUpdate")
    }
    section = RunsSection(last["sync-usage"], last["UsageUpdate"], rows, pager, q.origin)
    expanded = store.run_summary(q.run) if q.run else None
    if expanded is None:
        return section
    problems = Pager.of(q.problems, expanded.problems, size, "problems")
    found = store.run_problems(expanded.id, limit=size, offset=problems.offset)
    return RunsSection(
        section.last_sync_usage,
        section.last_usage_update,
        rows,
        pager,
        q.origin,
        expanded,
        tuple(found),
        problems,
    )


def _server_rows(servers, sampled, jobs: "AdminJobs", module: str, job_list) -> tuple:
    tests = jobs.tests()
    syncing = {j.server for j in job_list if j.kind == "sync" and j.running}
    rows, seen = [], set()
    for entry in servers:
        seen.add(entry.name)
        rows.append(
            ServerRow(
                entry.name,
                host_of(entry.url),
                str(entry.whmcs_server),
                True,
                "config",
                sampled.get(entry.name),
                tests.get(entry.name),
                jobs.domains(entry.name),
                sync_running=None in syncing or entry.name in syncing,
            )
        )
    known = jobs.whmcs_servers.get() if jobs.whmcs_servers is not None else None
    for server in (known.value or []) if known is not None else []:
        if getattr(server, "module", module) != module:
            continue
        if any(e.matches(server.id, server.hostname) for e in servers):
            continue
        seen.add(server.name)
        rows.append(
            ServerRow(
                server.name,
                server.hostname or server.ip_address,
                str(server.id),
                False,
                "whmcs",
                sampled.get(server.name),
                None,
                None,
            )
        )
    for name in sorted(set(sampled) - seen):
        rows.append(ServerRow(name, "", "", False, "store", sampled[name], None, None))
    return tuple(rows)


def _usage(store, overview: UsageOverview, rows, servers, q, size: int) -> UsageSection:
    checked = {r.name: r.domains for r in rows if r.domains is not None}
    admins = {e.name: e.admin_user.rpartition("@")[2].lower() for e in servers}
    missing, orphans, private = overview.compare(checked, admins)
    pagers = {
        "near": Pager.of(q.near, len(overview.nearest), size, "near"),
        "large": Pager.of(q.large, len(overview.largest), size, "large"),
        "missing": Pager.of(q.missing, len(missing), size, "missing"),
        "orphans": Pager.of(q.orphans, len(orphans), size, "orphans"),
    }
    nearest = tuple(pagers["near"].rows(overview.nearest))
    largest = tuple(pagers["large"].rows(overview.largest))
    counts = store.mailbox_counts(s.id for s in nearest + largest)
    return UsageSection(
        nearest,
        pagers["near"],
        largest,
        pagers["large"],
        tuple(pagers["missing"].rows(missing)),
        pagers["missing"],
        tuple(pagers["orphans"].rows(orphans)),
        pagers["orphans"],
        checked,
        tuple(private),
        counts,
    )


def _missing(latest: Sequence[SampleRow], known: dict[str, frozenset]) -> list[MissingRow]:
    found = []
    for s in latest:
        domains = known.get(s.server)
        if s.status == "skipped":
            found.append(MissingRow(s, "skipped", s.error))
        elif s.status == "failed" and "NO_SUCH_DOMAIN" in (s.error or ""):
            found.append(MissingRow(s, "no_such_domain", s.error))
        elif s.tenancy == "domain" and domains is not None and s.domain.lower() not in domains:
            found.append(MissingRow(s, "not_on_server"))
    return found


def _orphans(latest, known: dict[str, frozenset], private: set[str], admins) -> list[OrphanRow]:
    used: dict[str, set[str]] = {}
    for s in latest:
        used.setdefault(s.server, set()).add(s.domain.lower())
    found = []
    for server in sorted(known):
        if server in private:
            continue
        spare = known[server] - used.get(server, set()) - {admins.get(server, "")}
        found += [OrphanRow(server, d) for d in sorted(spare)]
    return found
