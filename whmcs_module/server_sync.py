"""ListAccounts: a Zimbra server's client domains for WHMCS's Server Sync tool (import and compare).

One account per client domain (the unique identifier is the domain), with its status and usage,
read with GetAllDomains and one whole-server GetQuotaUsage. Left out: the domain of the bridge's
own admin, the server's own domain (its host name, which Zimbra's installer creates), and alias
domains (``zimbraDomainType=alias``), which hold no mailboxes of their own.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from puq_bridge.errors import PuqBridgeError
from puq_bridge.units import bytes_to_mb
from puq_bridge.whmcs.params import ModuleParams

if TYPE_CHECKING:
    from whmcs_module.context import AdapterContext

log = logging.getLogger(__name__)

#: MetaData keys WHMCS's Server Sync tool reads.
LIST_ACCOUNTS_META = {
    "ListAccountsUniqueIdentifierDisplayName": "Domain",
    "ListAccountsUniqueIdentifierField": "domain",
    "ListAccountsProductField": "configoption4",
}


def list_accounts(params: ModuleParams, ctx: "AdapterContext") -> dict:
    """ListAccounts: ``{"success": True, "accounts": [...]}``, or ``success`` false, ``error``."""
    try:
        entry = ctx.entry_for(params.server)
        zimbra = ctx.zimbra(entry)
        host = (params.server.hostname or urlsplit(entry.url).hostname or "").lower()
        skip = {entry.admin_user.rpartition("@")[2].lower(), host}
        domains = [
            d
            for d in zimbra.all_domains()
            if d.name.lower() not in skip and _first(d.attrs.get("zimbraDomainType")) != "alias"
        ]
        usage: dict[str, list[int]] = {}
        for mailbox in zimbra.quota_usage().accounts:
            totals = usage.setdefault(mailbox.name.rpartition("@")[2].lower(), [0, 0])
            totals[0] += mailbox.used_bytes
            totals[1] += 1
    except PuqBridgeError as err:
        log.warning("ListAccounts failed: %s", err)
        return {"success": False, "error": str(err)}
    accounts = [_account(d, usage.get(d.name.lower(), [0, 0]), params.server.ip) for d in domains]
    log.info("ListAccounts: %d client domains on %s", len(accounts), entry.name)
    return {"success": True, "accounts": accounts}


def _account(domain, usage: list[int], ip: str) -> dict:
    used, mailboxes = usage
    status = "Active" if domain.status == "active" else "Suspended"
    return {
        "email": "",
        "username": "",
        "domain": domain.name,
        "uniqueIdentifier": domain.name,
        "product": "",
        "primaryip": ip,
        "created": _created(_first(domain.attrs.get("zimbraCreateTimestamp"))),
        "status": status,
        "diskusage": bytes_to_mb(used),
        "mailboxes": mailboxes,
    }


def _created(stamp: str) -> str:
    """Zimbra's ``20240915040026Z`` as WHMCS's ``2024-09-15 04:00:26`` ("" when absent)."""
    try:
        return dt.datetime.strptime(stamp[:14], "%Y%m%d%H%M%S").strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ""


def _first(value) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return value or ""
