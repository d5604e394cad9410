"""The view the client-area templates get: facts + the latest reading + history, as plain data.

Nothing here does I/O. :func:`build_view` joins a service's
:class:`~puq_bridge.clientarea.facts.ServiceFacts` with the store's latest
:class:`~puq_bridge.usage.records.Snapshot` and daily history; the mailbox table and bars are
formatted once in the client's locale.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

from puq_bridge.clientarea.facts import ServiceFacts
from puq_bridge.units import percent

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.clientarea.i18n import Catalog
    from puq_bridge.usage.records import DailyPoint, Snapshot

log = logging.getLogger(__name__)

#: Usage at or above these percentages colours the bars as a warning or as danger.
WARNING_PERCENT, DANGER_PERCENT = 75.0, 90.0


class MailboxRow(NamedTuple):
    """One mailbox as the tabs show it; ``percent`` is ``None`` for an unlimited mailbox."""

    name: str
    used_bytes: int
    limit_bytes: int
    percent: float | None
    level: str

    @property
    def unlimited(self) -> bool:
        """True when the mailbox has no quota."""
        return self.limit_bytes <= 0


class MailboxCells(NamedTuple):
    """One row of the mailbox table as display text, formatted once so the template only prints it.

    ``local`` and ``rest`` split the address before its ``@`` (where a long name may wrap); ``rest``
    is empty for a mailbox of the table's domain, which the header shows once. ``sort_keys`` holds
    the machine-readable sort keys of the three number columns, space-separated, for the header
    sort script: percent with three decimals (``-1`` when unlimited), used bytes, limit bytes
    (``Infinity`` when unlimited).
    """

    name: str
    sort_keys: str
    local: str
    rest: str
    percent: str
    used: str
    limit: str


class MailboxBar(NamedTuple):
    """One of the most used mailboxes on the resource-usage tab.

    ``shown`` is the name as the tab writes it (the local part in the service's domain); ``width``
    and ``value`` are ``""`` when the mailbox is unlimited.
    """

    name: str
    shown: str
    label: str
    level_class: str
    width: str
    value: str


@dataclass(frozen=True)
class UsageView:
    """The usage part of the tabs.

    ``has_data`` is False before the first sync (or live read); ``unreachable`` is True when the
    newest attempt to read Zimbra failed (at ``failed_at``), so the data shown is the last known.
    ``table`` and ``bars`` (the mailbox table and the top ``bars_limit`` bars, already formatted)
    are filled when :func:`build_view` gets a formatter; ``domain`` is then the service's domain if
    the table shows mailboxes without it.
    """

    has_data: bool
    used_bytes: int | None
    total_bytes: int | None
    percent: float | None
    level: str
    taken_at: dt.datetime | None
    stale: bool
    failed_at: dt.datetime | None
    unreachable: bool
    mailboxes: tuple[MailboxRow, ...]
    history: tuple[Any, ...]
    table: tuple[MailboxCells, ...] = ()
    bars: tuple[MailboxBar, ...] = ()
    domain: str = ""


@dataclass(frozen=True)
class ClientAreaView:
    """Everything the client-area templates get: facts, usage, and the element ids unique to the
    service."""

    facts: ServiceFacts
    usage: UsageView
    stale_after_hours: float
    now: dt.datetime

    @property
    def ids(self) -> dict[str, str]:
        """HTML ids, unique per service: the root and one per tab."""
        sid = self.facts.service_id
        return {
            "root": f"puq-ca-{sid}",
            "server-info": f"puq-srv-info-{sid}",
            "resource-usage": f"puq-usage-{sid}",
        }


def build_view(
    facts: ServiceFacts,
    snapshot: "Snapshot | None",
    history: Sequence["DailyPoint"] = (),
    *,
    now: dt.datetime | None = None,
    stale_after_hours: float = 26.0,
    fmt: "Catalog | None" = None,
    bars_limit: int = 10,
) -> ClientAreaView:
    """Join facts, the latest usage snapshot (``None`` = no data yet) and the daily history into the
    tabs' view.

    With ``fmt`` the mailbox table and the ``bars_limit`` most used mailboxes' bars come formatted
    in its locale.
    """
    now = _aware(now or dt.datetime.now(dt.timezone.utc))
    usage = _usage(facts, snapshot, tuple(history), now, stale_after_hours)
    if fmt is not None and usage.mailboxes:
        table = mailbox_table(usage.mailboxes, fmt, facts.domain)
        usage = replace(
            usage,
            table=table,
            bars=mailbox_bars(usage.mailboxes[: max(bars_limit, 0)], fmt, facts.domain),
            domain=facts.domain if any(not cells.rest for cells in table) else "",
        )
    return ClientAreaView(facts, usage, stale_after_hours, now)


def _usage(
    facts: ServiceFacts,
    snap: "Snapshot | None",
    history: tuple,
    now: dt.datetime,
    stale_after_hours: float,
) -> UsageView:
    if snap is None:
        total = facts.total_space_bytes
        return UsageView(False, None, total, None, "none", None, False, None, False, (), history)
    total = facts.total_space_bytes or snap.limit_bytes or 0
    pct = percent(snap.used_bytes, total)
    taken = _aware(snap.taken_at)
    stale = now - taken > dt.timedelta(hours=stale_after_hours)
    failed = _aware(snap.failed_at) if snap.failed_at else None
    unreachable = failed is not None or bool(snap.error)
    return UsageView(
        True,
        snap.used_bytes,
        total,
        pct,
        _level(pct),
        taken,
        stale,
        failed,
        unreachable,
        mailbox_rows(snap.mailboxes),
        history,
    )


def mailbox_rows(mailboxes: Sequence[Any]) -> tuple[MailboxRow, ...]:
    """Rows for the mailbox table: most used first, then by name (the order without JavaScript)."""
    rows = []
    append = rows.append
    for m in mailboxes:
        used, limit = m.used_bytes, m.limit_bytes
        pct = 100.0 * used / limit if limit > 0 else None
        append(_new(MailboxRow, (m.name, used, limit, pct, _level(pct))))
    # two stable C-level sorts instead of a Python key function: by name, then by usage (reverse
    # keeps name order)
    rows.sort(key=_BY_NAME)
    rows.sort(key=_BY_USED, reverse=True)
    return tuple(rows)


_BY_NAME, _BY_USED = attrgetter("name"), attrgetter("used_bytes")
#: NamedTuple's generated ``__new__`` is Python code; for a thousand rows the C constructor is worth
#: the shortcut.
_new = tuple.__new__


def mailbox_table(
    rows: Sequence[MailboxRow], fmt: "Catalog", domain: str = ""
) -> tuple[MailboxCells, ...]:
    """The mailbox table's rows as text in ``fmt``'s locale (a repeated limit is formatted once).

    A mailbox in ``domain`` (any case) shows its local part only; any other shows its whole address.
    """
    unlimited = fmt.text("value.unlimited")
    missing = fmt.formats["missing"]
    limits: dict[int, str] = {}
    gb_value, percent = fmt.gb_value, fmt.percent
    suffix = "@" + domain.lower() if domain else None
    cut = -len(suffix) if suffix else 0
    cells = []
    append = cells.append
    for name, used, limit, pct, _ in rows:
        if suffix and name.lower().endswith(suffix) and len(name) > len(suffix):
            local, at, host = name[:cut], "", ""
        else:
            local, at, host = name.partition("@")
        if limit > 0:
            limit_text = limits.get(limit)
            if limit_text is None:
                limit_text = limits[limit] = gb_value(limit)
            append(
                _new(
                    MailboxCells,
                    (
                        name,
                        "%.3f %d %d" % (pct, used, limit),
                        local,
                        at + host,
                        percent(pct),
                        gb_value(used),
                        limit_text,
                    ),
                )
            )
        else:
            append(
                _new(
                    MailboxCells,
                    (
                        name,
                        "-1 %d Infinity" % used,
                        local,
                        at + host,
                        missing,
                        gb_value(used),
                        unlimited,
                    ),
                )
            )
    return tuple(cells)


def mailbox_bars(
    rows: Sequence[MailboxRow], fmt: "Catalog", domain: str = ""
) -> tuple[MailboxBar, ...]:
    """Bars for the most used mailboxes: "1,5 GB of 2,0 GB (75,0%)", the level's classes, the width.

    A mailbox in ``domain`` is shown by its local part, as in the mailbox table.
    """
    suffix = "@" + domain.lower() if domain else None
    bars = []
    for row in rows:
        name = row.name
        shown = name
        if suffix and name.lower().endswith(suffix) and len(name) > len(suffix):
            shown = name[: -len(suffix)]
        if row.percent is None:
            label = used_of(fmt, row.used_bytes, row.limit_bytes)
            bars.append(MailboxBar(name, shown, label, "", "", ""))
            continue
        label = f"{used_of(fmt, row.used_bytes, row.limit_bytes)} ({fmt.percent(row.percent)})"
        bars.append(
            MailboxBar(
                name,
                shown,
                label,
                LEVEL_CLASSES.get(row.level, ""),
                "%.1f" % min(row.percent, 100),
                "%.1f" % row.percent,
            )
        )
    return tuple(bars)


#: Bootstrap 4 and 3 classes of a progress bar per usage level.
LEVEL_CLASSES = {
    "ok": "bg-success progress-bar-success",
    "warning": "bg-warning progress-bar-warning",
    "danger": "bg-danger progress-bar-danger",
}


def used_of(fmt: "Catalog", used: int, total: int | None) -> str:
    """ "1,5 GB of 10,0 GB", or "1,5 GB (no limit)" when the total is unlimited (0) or unknown."""
    if not total or total <= 0:
        return fmt.text("usage.of_unlimited", used=fmt.gb(used))
    return fmt.text("usage.of", used=fmt.gb(used), total=fmt.gb(total))


def _level(pct: float | None) -> str:
    if pct is None:
        return "none"
    if pct >= DANGER_PERCENT:
        return "danger"
    if pct >= WARNING_PERCENT:
        return "warning"
    return "ok"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
