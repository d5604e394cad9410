"""Zimbra's access control over SOAP: GrantRight, RevokeRight and GetGrants.

A mixin of :class:`~puq_bridge.zimbra.client.ZimbraAdmin` (it uses the client's one round trip,
``_invoke``), kept apart so the client module stays one concern. A target is a domain (or another
entry) by name, or the ``global`` ACL target, which has no name; a grantee is an account (``usr``)
by name or id. Zimbra refuses an admin right to an account that is not a (delegated) admin yet
(``service.INVALID_REQUEST``), and a revoke of a grant that does not exist
(``account.NO_SUCH_GRANT``).
"""

from __future__ import annotations

from typing import Any

from puq_bridge.zimbra.models import Grant

#: the target type whose grants apply everywhere (``zmprov grantRight global ...``).
GLOBAL = "global"


def _target(target_type: str, name: str | None) -> dict[str, str]:
    if target_type == GLOBAL:
        return {"type": GLOBAL, "_value_1": ""}
    if not name:
        raise ValueError(f"Zimbra rights: a {target_type} target needs a name")
    return {"type": target_type, "by": "name", "_value_1": name}


def _grantee(name: str | None, id: str | None, grantee_type: str) -> dict[str, Any]:
    if (name is None) == (id is None):
        raise ValueError("Zimbra rights: give exactly one of grantee name or id")
    by, value = ("name", name) if name is not None else ("id", id)
    return {"type": grantee_type, "by": by, "_value_1": value}


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


class RightsMixin:
    """GrantRight, RevokeRight and GetGrants for :class:`~puq_bridge.zimbra.client.ZimbraAdmin`."""

    def grant_right(
        self,
        target_type: str,
        target: str | None,
        right: str,
        *,
        grantee: str | None = None,
        grantee_id: str | None = None,
        grantee_type: str = "usr",
    ) -> None:
        """GrantRight: ``right`` on the target (``target_type`` ``global``: no name) to the grantee.

        Granting a grant that exists again changes nothing on Zimbra's side.
        """
        self._invoke(
            "GrantRight",
            target=_target(target_type, target),
            grantee=_grantee(grantee, grantee_id, grantee_type),
            right={"_value_1": right},
        )

    def revoke_right(
        self,
        target_type: str,
        target: str | None,
        right: str,
        *,
        grantee: str | None = None,
        grantee_id: str | None = None,
        grantee_type: str = "usr",
    ) -> None:
        """RevokeRight; a missing grant raises :class:`~puq_bridge.errors.NoSuchGrant`."""
        self._invoke(
            "RevokeRight",
            target=_target(target_type, target),
            grantee=_grantee(grantee, grantee_id, grantee_type),
            right={"_value_1": right},
        )

    def grants(
        self,
        *,
        target_type: str | None = None,
        target: str | None = None,
        grantee: str | None = None,
        grantee_id: str | None = None,
        grantee_type: str = "usr",
    ) -> list[Grant]:
        """GetGrants on a target, to a grantee (its own grants, not its groups'), or both."""
        params: dict[str, Any] = {}
        if target_type is not None:
            params["target"] = _target(target_type, target)
        if grantee is not None or grantee_id is not None:
            params["grantee"] = {**_grantee(grantee, grantee_id, grantee_type), "all": False}
        if not params:
            raise ValueError("Zimbra GetGrants: give a target, a grantee or both")
        reply = self._invoke("GetGrants", **params)
        return [_grant(item) for item in (reply or [])]


def _grant(item: Any) -> Grant:
    target, grantee, right = item.target, item.grantee, item.right
    return Grant(
        target_type=target.type or "",
        target_id=target.id or "",
        target_name=target.name or "",
        grantee_type=grantee.type or "",
        grantee_id=grantee.id or "",
        grantee_name=grantee.name or "",
        right=(right._value_1 or "").strip(),
        deny=_flag(right.deny),
        can_delegate=_flag(right.canDelegate),
    )
