"""The store's reads for the WHMCS addon page: recent runs and their problems, each server's latest
run, each service's latest sample and reading, and the client actions' audit.

:class:`OverviewReads` is a mixin of :class:`~puq_bridge.usage.store.UsageStore`: every method is
one or a few indexed queries through the store's ``_read``, so a page over 10,000 services never
reads every sample of every run. The records are plain frozen dataclasses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Iterable

from puq_bridge.errors import StoreError
from puq_bridge.usage.records import STATUSES

#: what may run a sync, as ``runs.origin`` records it (``None``: a run recorded before schema 4).
ORIGINS = ("sync-usage", "UsageUpdate", "SyncUsage", "addon")

_RUN_COLUMNS = "id, started, finished, origin, updated, unchanged, failed, skipped"
_SAMPLE_COLUMNS = (
    "id, run_id, service_id, client_id, domain, server, status, taken_at, used_bytes, limit_bytes, "
    "error, tenancy"
)


def when(value: str | dt.datetime) -> dt.datetime:
    """A stored timestamp (ISO text ending in ``Z``, or a datetime) as an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class RunSummary:
    """One recorded sync run: when, what ran it, and how many services ended in each status."""

    id: int
    started: dt.datetime
    finished: dt.datetime
    origin: str | None
    updated: int
    unchanged: int
    failed: int
    skipped: int

    @property
    def duration_s(self) -> float:
        """Seconds from start to end."""
        return max((self.finished - self.started).total_seconds(), 0.0)

    @property
    def total(self) -> int:
        """How many services the run covered."""
        return self.updated + self.unchanged + self.failed + self.skipped

    @property
    def problems(self) -> int:
        """How many services failed or were skipped."""
        return self.failed + self.skipped


@dataclass(frozen=True)
class SampleRow:
    """One service in one run, without its mailboxes (``used_bytes`` is ``None`` when nothing was
    read)."""

    id: int
    run_id: int
    service_id: int
    client_id: int | None
    domain: str
    server: str
    status: str
    taken_at: dt.datetime
    used_bytes: int | None
    limit_bytes: int | None
    error: str | None
    tenancy: str

    @property
    def percent(self) -> float | None:
        """Used share of the limit in percent; ``None`` without data or without a limit."""
        if self.used_bytes is None or not self.limit_bytes:
            return None
        return self.used_bytes * 100.0 / self.limit_bytes


@dataclass(frozen=True)
class ServerRun:
    """A server's part in the latest run that read it: the counts of its services and the most
    frequent error of the failed ones."""

    server: str
    run: RunSummary
    counts: dict[str, int]
    error: str | None

    @property
    def total(self) -> int:
        """How many of the server's services the run covered."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class ClientAction:
    """One entry of the client actions' audit: a self-service or sign-on action on a service."""

    at: dt.datetime
    service_id: int
    actor: str
    action: str
    detail: str
    outcome: str


def _run(row: tuple) -> RunSummary:
    rid, started, finished, origin, *counts = row
    return RunSummary(rid, when(started), when(finished), origin, *(int(c) for c in counts))


def _sample(row: tuple) -> SampleRow:
    sid, run_id, service_id, client_id, domain, server, status, taken, used, limit, error, ten = row
    return SampleRow(
        sid,
        run_id,
        service_id,
        client_id,
        domain,
        server,
        status,
        when(taken),
        used,
        limit,
        error,
        ten or "domain",
    )


class OverviewReads:
    """Reads for the addon page (mixed into :class:`~puq_bridge.usage.store.UsageStore`, whose
    ``_read(sql, params)`` they use)."""

    def _read(self, sql: str, params: Iterable = ()) -> list[tuple]:  # pragma: no cover
        raise NotImplementedError

    # --- runs ----------------------------------------------------------------------------------

    def runs(
        self, *, origin: str | None = None, limit: int = 10, offset: int = 0
    ) -> list[RunSummary]:
        """The newest runs first (only those of ``origin`` when given), ``limit`` from
        ``offset``."""
        where, params = ("WHERE origin = ? ", [origin]) if origin else ("", [])
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM runs {where}ORDER BY started DESC, id DESC "
            "LIMIT ? OFFSET ?",
            (*params, int(limit), int(offset)),
        )
        return [_run(r) for r in rows]

    def count_runs(self, *, origin: str | None = None) -> int:
        """How many runs are kept (of ``origin`` when given)."""
        if origin:
            return self._read("SELECT COUNT(*) FROM runs WHERE origin = ?", (origin,))[0][0]
        return self._read("SELECT COUNT(*) FROM runs")[0][0]

    def run_summary(self, run_id: int) -> RunSummary | None:
        """One run by id, or ``None``."""
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (int(run_id),))
        return _run(rows[0]) if rows else None

    def last_run_id(self) -> int:
        """The id of the newest recorded run (0 when none): changes whenever a run is recorded."""
        return self._read("SELECT COALESCE(MAX(id), 0) FROM runs")[0][0]

    def run_problems(self, run_id: int, *, limit: int = 20, offset: int = 0) -> list[SampleRow]:
        """The failed and skipped services of a run (failed first, then by service id)."""
        rows = self._read(
            f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE run_id = ? "
            "AND status IN ('failed', 'skipped') "
            "ORDER BY CASE status WHEN 'failed' THEN 0 ELSE 1 END, service_id LIMIT ? OFFSET ?",
            (int(run_id), int(limit), int(offset)),
        )
        return [_sample(r) for r in rows]

    # --- servers -------------------------------------------------------------------------------

    def sampled_servers(self) -> list[str]:
        """Every server name a kept sample names (one index seek per name)."""
        rows = self._read(
            "WITH RECURSIVE names(server) AS ("
            " SELECT MIN(server) FROM samples WHERE server <> ''"
            " UNION ALL"
            " SELECT (SELECT MIN(server) FROM samples WHERE server > names.server)"
            " FROM names WHERE names.server IS NOT NULL)"
            " SELECT server FROM names WHERE server IS NOT NULL"
        )
        return [r[0] for r in rows]

    def server_runs(self, names: Iterable[str] | None = None) -> dict[str, ServerRun]:
        """server name -> its part in the latest run that read it, for ``names`` (default: every
        server a kept sample names); servers never sampled are left out."""
        found: dict[str, ServerRun] = {}
        for name in self.sampled_servers() if names is None else names:
            latest = self._read(
                "SELECT run_id FROM samples WHERE server = ? ORDER BY taken_at DESC, id DESC "
                "LIMIT 1",
                (name,),
            )
            if not latest:
                continue
            run = self.run_summary(latest[0][0])
            if run is None:
                continue
            counts = dict.fromkeys(STATUSES, 0)
            for status, count in self._read(
                "SELECT status, COUNT(*) FROM samples WHERE run_id = ? AND server = ? "
                "GROUP BY status",
                (run.id, name),
            ):
                counts[status] = int(count)
            errors = self._read(
                "SELECT error, COUNT(*) AS n FROM samples WHERE run_id = ? AND server = ? "
                "AND status = 'failed' GROUP BY error ORDER BY n DESC, error LIMIT 1",
                (run.id, name),
            )
            found[name] = ServerRun(name, run, counts, errors[0][0] if errors else None)
        return found

    # --- services ------------------------------------------------------------------------------

    def latest_samples(self) -> list[SampleRow]:
        """Each service's newest kept sample, whatever its status (by service id)."""
        rows = self._read(
            f"SELECT {_prefixed('s')} FROM samples s JOIN "
            "(SELECT MAX(id) AS id FROM samples GROUP BY service_id) m ON s.id = m.id "
            "ORDER BY s.service_id"
        )
        return [_sample(r) for r in rows]

    def latest_readings(self, service_ids: Iterable[int] | None = None) -> list[SampleRow]:
        """Each service's newest sample with data (for ``service_ids`` only, when given)."""
        if service_ids is None:
            inner = (
                "SELECT MAX(id) AS id FROM samples WHERE used_bytes IS NOT NULL GROUP BY service_id"
            )
            params: list = []
        else:
            ids = sorted({int(s) for s in service_ids})
            if not ids:
                return []
            marks = ", ".join("?" for _ in ids)
            inner = (
                "SELECT MAX(id) AS id FROM samples WHERE used_bytes IS NOT NULL "
                f"AND service_id IN ({marks}) GROUP BY service_id"
            )
            params = ids
        rows = self._read(
            f"SELECT {_prefixed('s')} FROM samples s JOIN ({inner}) m ON s.id = m.id "
            "ORDER BY s.service_id",
            params,
        )
        return [_sample(r) for r in rows]

    def mailbox_counts(self, sample_ids: Iterable[int]) -> dict[int, int]:
        """sample id -> how many mailboxes it recorded (for a page of samples)."""
        ids = sorted({int(s) for s in sample_ids})
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = self._read(
            f"SELECT sample_id, COUNT(*) FROM mailboxes WHERE sample_id IN ({marks}) "
            "GROUP BY sample_id",
            ids,
        )
        return {sid: int(n) for sid, n in rows}

    # --- client actions ------------------------------------------------------------------------

    def client_actions(
        self, *, service_id: int | None = None, limit: int = 25, offset: int = 0
    ) -> list[ClientAction]:
        """The client actions, newest first (one service's when ``service_id`` is given), from
        every log the store has: ``signons(service_id, mailbox, function, signed_at)`` (the
        clients' sign-ons; staff's, without a service, are not client actions) and
        ``actions`` (the self-service audit: user, action, target, result). Empty while it has
        neither."""
        wanted = int(limit) + int(offset)
        found: list[ClientAction] = []
        for source in _ACTION_SOURCES:
            if not self._has_table(source.table):
                continue
            where, params = _action_filter(source, service_id)
            rows = self._read(
                f"SELECT {source.columns} FROM {source.table} {where}"
                f"ORDER BY {source.at} DESC LIMIT ?",
                (*params, wanted),
            )
            found += [source.record(row) for row in rows]
        found.sort(key=lambda a: a.at, reverse=True)
        return found[int(offset) : wanted]

    def count_client_actions(self, *, service_id: int | None = None) -> int:
        """How many client actions the logs hold (of one service when given)."""
        total = 0
        for source in _ACTION_SOURCES:
            if self._has_table(source.table):
                where, params = _action_filter(source, service_id)
                total += self._read(f"SELECT COUNT(*) FROM {source.table} {where}", params)[0][0]
        return total

    def _has_table(self, table: str) -> bool:
        """Whether the store has ``table`` (a name from the code, never from input)."""
        try:
            self._read(f"SELECT 1 FROM {table} WHERE 1 = 0")
        except StoreError:
            return False
        return True


@dataclass(frozen=True)
class _ActionSource:
    """A table of client actions and how its rows become :class:`ClientAction`."""

    table: str
    columns: str
    at: str
    record: Callable[[tuple], ClientAction]


def _signon(row: tuple) -> ClientAction:
    signed_at, sid, mailbox, function = row
    return ClientAction(when(signed_at), int(sid), mailbox or "", function or "", "", "ok")


def _audited(row: tuple) -> ClientAction:
    at, sid, actor, action, detail, outcome = row
    return ClientAction(when(at), int(sid), actor or "", action or "", detail or "", outcome or "")


_ACTION_SOURCES = (
    _ActionSource("signons", "signed_at, service_id, mailbox, function", "signed_at", _signon),
    # the self-service audit (schema 6): actor = the WHMCS user, detail = target and reason
    _ActionSource(
        "actions",
        "acted_at, service_id, user_id, action, target || ' ' || COALESCE(detail, ''), result",
        "acted_at",
        _audited,
    ),
)


def _action_filter(source: _ActionSource, service_id: int | None) -> tuple[str, tuple]:
    if service_id:
        return "WHERE service_id = ? ", (int(service_id),)
    return "WHERE service_id IS NOT NULL ", ()


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in _SAMPLE_COLUMNS.split(","))
