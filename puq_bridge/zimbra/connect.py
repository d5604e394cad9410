"""A Zimbra admin client built from a ``[[zimbra]]`` config entry. Importing this module does not
import zeep."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from puq_bridge.http import pooled_session

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.config import ZimbraConfig
    from puq_bridge.zimbra.client import ZimbraAdmin


def zimbra_from_config(
    entry: "ZimbraConfig", *, pool_size: int | None = None, **kwargs: Any
) -> "ZimbraAdmin":
    """A :class:`~puq_bridge.zimbra.client.ZimbraAdmin` for one ``[[zimbra]]`` entry (URL, admin,
    password, name, TLS verification, timeout); ``kwargs`` override or add constructor arguments
    (e.g. ``session``). Imports zeep.

    ``pool_size``: how many threads may use the client at once (the sync's readers of one server,
    the adapter's workers): its connection pool is made that big now
    (:func:`~puq_bridge.http.pooled_session`), as nothing may resize it once threads share it.
    Ignored when ``kwargs`` bring a ``session``.
    """
    from puq_bridge.zimbra.client import ZimbraAdmin

    if pool_size is not None and "session" not in kwargs:
        kwargs["session"] = pooled_session(pool_size)
    options: dict[str, Any] = {"name": entry.name, "verify": entry.verify, "timeout": entry.timeout}
    options.update(kwargs)
    return ZimbraAdmin(entry.url, entry.admin_user, entry.password, **options)
