"""The one rule for which usage a client-area page shows: the stored reading, or Zimbra read now.

The adapter's ClientArea and the ``render`` command both ask :func:`page_usage`. A page shows the
store's latest reading when it covers what the product's tenancy asks for (the service's domain, or
every mailbox of a private server); otherwise — a new service, or one whose tenancy the bridge
learnt after its last sync — the usage is read live once. The history always comes from the store.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.usage.records import DailyPoint, Snapshot
    from puq_bridge.usage.store import UsageStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageUsage:
    """What a page shows of a service's usage.

    Attributes:
        snapshot: the reading shown (``None``: no data, e.g. a live read that failed).
        history: the daily points of the usage chart.
        live: the reading was taken from Zimbra now (so a page built from it is not reused).
    """

    snapshot: "Snapshot | None"
    history: "list[DailyPoint]" = field(default_factory=list)
    live: bool = False


def page_usage(
    store: "UsageStore | None",
    service_id: int,
    tenancy: str,
    read_live: Callable[[], "Snapshot | None"],
    *,
    now: dt.datetime | None = None,
) -> PageUsage:
    """The usage a page of service ``service_id`` shows (see the module docstring).

    Args:
        store: the usage store, or ``None`` (then Zimbra is always read).
        service_id: the WHMCS service.
        tenancy: the product's tenancy now (``domain`` or ``server``).
        read_live: reads the service's usage from Zimbra now; called only when needed.
        now: the end of the history (default: now).
    """
    snapshot, history = None, []
    if store is not None:
        stored = store.latest(service_id)
        if stored is not None and stored.tenancy == tenancy:
            snapshot = stored
        elif stored is not None:
            log.info(
                "service %s: the stored reading covers tenancy %s, the product's is %s: "
                "reading live",
                service_id,
                stored.tenancy,
                tenancy,
            )
        history = store.history(service_id, now=now)
    if snapshot is None:
        return PageUsage(read_live(), history, live=True)
    return PageUsage(snapshot, history)
