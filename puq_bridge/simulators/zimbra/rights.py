"""Grants of the fake Zimbra (a mixin of :class:`~puq_bridge.simulators.zimbra.app.FakeZimbra`):
GrantRight, RevokeRight, GetGrants, and refusals of a bridge admin that lacks a right.

Like the real server (``RightCommand``): a target or grantee that does not exist is
``account.NO_SUCH_DOMAIN`` / ``account.NO_SUCH_ACCOUNT``; an unknown right
``account.NO_SUCH_RIGHT``;
an admin right for an account that is not a delegated admin (a global admin cannot receive grants
either) ``service.INVALID_REQUEST`` "grantee must be an admin account or group"; a right on a target
type it cannot be granted on ``service.INVALID_REQUEST``; granting an existing grant changes
nothing; revoking a missing one is ``account.NO_SUCH_GRANT``. Deleting an account drops its grants
and deleting a domain the grants on it (``revokeAllRights``). Only rights the bridge and its tests
use are known (:data:`RIGHTS`); only ``usr`` grantees are modelled.

:meth:`Rights.deny` makes later requests of an operation (optionally only those setting one
attribute) fail with ``service.PERM_DENIED``, as a bridge admin without that right sees.
"""

from __future__ import annotations

import time

from puq_bridge.simulators.zimbra.wire import E, SimFault, attr_items, param

GLOBAL_ID = "e3f3c9a4-0000-4000-8000-00000000a11c"
GLOBAL_NAME = "globalacltarget"
#: right → the target types it can be granted on (a domain right also globally, as on Zimbra).
RIGHTS = {
    "domainAdminConsoleRights": ("domain", "global"),
    "domainAdminRights": ("domain", "global"),
    "adminConsoleAliasRights": ("domain", "global"),
    "domainAdminZimletRights": ("global",),
    "listZimlet": ("global",),
    "getZimlet": ("global",),
    "listAccount": ("account", "domain", "global"),
    "adminLoginCalendarResourceAs": ("domain", "global"),
    "getDomainQuotaUsage": ("domain", "global"),
}
_TRUE = ("1", "true", "TRUE", "True")


def _child(body, name: str):
    return next((c for c in body if isinstance(c.tag, str) and c.tag.endswith("}" + name)), None)


class Rights:
    """State and operations of grants; ``self.grants`` is a list of dicts (:meth:`add_grant`)."""

    # --- state helpers ---------------------------------------------------------------------------

    def add_grant(self, target_type: str, target: str | None, grantee: str, right: str) -> None:
        """Record a grant directly (a test's starting state); the names must exist."""
        with self.lock:
            ttype, tid, tname = self._grant_target(target_type, "name", target or "")
            gid = self._account("name", grantee)[1]["id"]
            self._store_grant(ttype, tid, tname, gid, grantee, right)

    def grants_of(self, grantee: str) -> list[dict]:
        """The grants made to an account (by name), as stored."""
        with self.lock:
            return [dict(g) for g in self._grants() if g["grantee_name"] == grantee]

    def deny(self, op: str, *, attr: str | None = None) -> None:
        """Refuse every later ``op`` request with ``service.PERM_DENIED``: GrantRight, RevokeRight,
        GetGrants, ModifyDomain, ModifyAccount. ``attr``: only requests setting that attribute
        (ModifyDomain, ModifyAccount) or granting that right (GrantRight, RevokeRight)."""
        with self.lock:
            self._denials().append((op, attr))

    def _init_rights(self) -> None:
        """The empty state: no grants, nothing denied (called by the simulator's constructor)."""
        self.grants: list[dict] = []
        self._denied: list[tuple[str, str | None]] = []

    def _grants(self) -> list[dict]:
        return self.grants

    def _denials(self) -> list[tuple[str, str | None]]:
        return self._denied

    def _check_denied(self, op: str, body, right: str = "") -> None:
        names = {n for n, _ in attr_items(body)} | {right}
        for denied_op, attr in self._denials():
            if denied_op == op and (attr is None or attr in names):
                need = f"set.domain.{attr}" if attr and attr != right else right or op
                raise SimFault("service.PERM_DENIED", f"permission denied: need right: {need}")

    def _grant_target(self, ttype: str, by: str, value: str) -> tuple[str, str, str]:
        if ttype == "global":
            return "global", GLOBAL_ID, GLOBAL_NAME
        if ttype == "domain":
            name, domain = self._domain(by, value)
            return "domain", domain["id"], name
        if ttype == "account":
            name, account = self._account(by, value)
            return "account", account["id"], name
        raise SimFault("service.INVALID_REQUEST", f"invalid request: unknown target type: {ttype}")

    def _store_grant(self, ttype, tid, tname, gid, gname, right, can_delegate=False) -> None:
        for g in self._grants():
            if (g["target_id"], g["grantee_id"], g["right"]) == (tid, gid, right):
                return
        self._grants().append(
            {
                "target_type": ttype,
                "target_id": tid,
                "target_name": tname,
                "grantee_type": "usr",
                "grantee_id": gid,
                "grantee_name": gname,
                "right": right,
                "can_delegate": can_delegate,
            }
        )

    def _parse_grant(self, body, op: str) -> tuple[tuple[str, str, str], str, str, str, bool]:
        target, grantee, right = (_child(body, n) for n in ("target", "grantee", "right"))
        if target is None or grantee is None or right is None:
            raise SimFault(
                "service.INVALID_REQUEST", "invalid request: missing target, grantee or right"
            )
        ttype = target.get("type", "")
        resolved = self._grant_target(ttype, target.get("by", "name"), (target.text or "").strip())
        if grantee.get("type", "usr") != "usr":
            raise SimFault("service.INVALID_REQUEST", "invalid request: invalid grantee type")
        gname, account = self._account(grantee.get("by", "name"), (grantee.text or "").strip())
        name = (right.text or "").strip()
        if name not in RIGHTS:
            raise SimFault("account.NO_SUCH_RIGHT", f"no such right: {name}")
        self._check_denied(op, body, name)
        can_delegate = (right.get("canDelegate") or "") in _TRUE
        return resolved, gname, account["id"], name, can_delegate

    # --- operations ------------------------------------------------------------------------------

    def op_grant_right(self, body):
        """GrantRightRequest: target, usr grantee (a delegated admin), right; repeats are no-ops."""
        (ttype, tid, tname), gname, gid, right, can_delegate = self._parse_grant(body, "GrantRight")
        attrs = self.accounts[gname]["attrs"]
        delegated = attrs.get("zimbraIsDelegatedAdminAccount", "FALSE") in _TRUE
        if not delegated or attrs.get("zimbraIsAdminAccount", "FALSE") in _TRUE:
            raise SimFault(
                "service.INVALID_REQUEST",
                "invalid request: grantee must be an admin account or group",
            )
        if ttype not in RIGHTS[right]:
            raise SimFault(
                "service.INVALID_REQUEST",
                f"invalid request: right {right} cannot be granted on a {ttype} entry. "
                f"It can only be granted on target types: {', '.join(RIGHTS[right])}",
            )
        self._store_grant(ttype, tid, tname, gid, gname, right, can_delegate)
        return E("GrantRightResponse")

    def op_revoke_right(self, body):
        """RevokeRightRequest; NO_SUCH_GRANT when there is none to revoke."""
        (ttype, tid, _), gname, gid, right, _ = self._parse_grant(body, "RevokeRight")
        grants = self._grants()
        for g in grants:
            if (g["target_id"], g["grantee_id"], g["right"]) == (tid, gid, right):
                grants.remove(g)
                return E("RevokeRightResponse")
        raise SimFault(
            "account.NO_SUCH_GRANT",
            f"no such grant: [grantee name={gname}, grantee id={gid}, grantee type=usr, "
            f"right={right}]",
        )

    def op_get_grants(self, body):
        """GetGrantsRequest by target and/or grantee."""
        self._check_denied("GetGrants", body)
        target, grantee = _child(body, "target"), _child(body, "grantee")
        if target is None and grantee is None:
            raise SimFault(
                "service.INVALID_REQUEST", "invalid request: must specify target or grantee"
            )
        found = self._grants()
        if target is not None:
            tid = self._grant_target(
                target.get("type", ""), target.get("by", "name"), (target.text or "").strip()
            )[1]
            found = [g for g in found if g["target_id"] == tid]
        if grantee is not None:
            gid = self._account(grantee.get("by", "name"), (grantee.text or "").strip())[1]["id"]
            found = [g for g in found if g["grantee_id"] == gid]
        return E("GetGrantsResponse", None, *[_grant_element(g) for g in found])

    def op_modify_domain_checked(self, body):
        """ModifyDomainRequest, refused first when denied (:meth:`deny`); the aggregate-quota
        policy must be one Zimbra knows."""
        self._check_denied("ModifyDomain", body)
        _check_policy(body)
        return self.OPS_BASE["ModifyDomain"](self, body)

    def op_create_domain_checked(self, body):
        """CreateDomainRequest with the aggregate-quota policy checked; the new domain gets its
        ``zimbraCreateTimestamp`` (LDAP generalized time), as on Zimbra."""
        _check_policy(body)
        reply = self.OPS_BASE["CreateDomain"](self, body)
        name = (param(body, "name") or "").strip().lower()
        stamp = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(self.clock()))
        self.domains[name]["attrs"]["zimbraCreateTimestamp"] = stamp
        return reply

    def op_modify_account_checked(self, body):
        """ModifyAccountRequest, refused first when denied (:meth:`deny`)."""
        self._check_denied("ModifyAccount", body)
        return self.OPS_BASE["ModifyAccount"](self, body)

    def op_delete_account_revoking(self, body):
        """DeleteAccountRequest; the account's grants go with it."""
        account_id = param(body, "id") or ""
        reply = self.OPS_BASE["DeleteAccount"](self, body)
        self.grants = [g for g in self._grants() if g["grantee_id"] != account_id]
        return reply

    def op_delete_domain_revoking(self, body):
        """DeleteDomainRequest; the grants on the domain go with it."""
        domain_id = param(body, "id") or ""
        reply = self.OPS_BASE["DeleteDomain"](self, body)
        self.grants = [g for g in self._grants() if g["target_id"] != domain_id]
        return reply

    RIGHTS_OPS = {
        "GrantRight": op_grant_right,
        "RevokeRight": op_revoke_right,
        "GetGrants": op_get_grants,
        "ModifyDomain": op_modify_domain_checked,
        "CreateDomain": op_create_domain_checked,
        "ModifyAccount": op_modify_account_checked,
        "DeleteAccount": op_delete_account_revoking,
        "DeleteDomain": op_delete_domain_revoking,
    }


POLICIES = ("ALLOWSENDRECEIVE", "BLOCKSEND", "BLOCKSENDRECEIVE")


def _check_policy(body) -> None:
    for name, value in attr_items(body):
        if name == "zimbraDomainAggregateQuotaPolicy" and value and value not in POLICIES:
            raise SimFault(
                "account.INVALID_ATTR_VALUE",
                f"invalid attr value: {name} must be one of: {','.join(POLICIES)}",
            )
        if name == "zimbraDomainAggregateQuota" and value and not value.strip().isdigit():
            raise SimFault(
                "account.INVALID_ATTR_VALUE",
                f"invalid attr value: {name} must be a valid long: {value}",
            )


def _grant_element(g: dict):
    flag = "1" if g["can_delegate"] else "0"
    return E(
        "grant",
        None,
        E("target", {"type": g["target_type"], "id": g["target_id"], "name": g["target_name"]}),
        E("grantee", {"type": "usr", "id": g["grantee_id"], "name": g["grantee_name"]}),
        E(
            "right",
            {"deny": "0", "canDelegate": flag, "disinheritSubGroups": "0", "subDomain": "0"},
            text=g["right"],
        ),
    )
