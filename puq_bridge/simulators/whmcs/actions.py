"""The API actions of :class:`~puq_bridge.simulators.whmcs.app.FakeWhmcs`: one function per action,
WHMCS's shapes.

Each action takes the simulator and the request's parameters (strings, as PHP sees them) and returns
the reply dictionary, or raises :class:`ApiError` with WHMCS's own message (sent as
``{"result": "error"}`` with HTTP 200).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from puq_bridge.simulators.whmcs.app import FakeWhmcs

#: The 13 permission names of WHMCS's Users API.
PERMISSIONS = (
    "profile",
    "contacts",
    "products",
    "manageproducts",
    "productsso",
    "domains",
    "managedomains",
    "invoices",
    "quotes",
    "tickets",
    "affiliates",
    "emails",
    "orders",
)

#: The activated payment gateways of a new simulator (those the sample data uses): module name ->
#: display name.
PAYMENT_METHODS = {"banktransfer": "Bank Transfer", "paypal": "PayPal", "stripe": "Credit Card"}

#: UpdateClientProduct parameter -> GetClientsProducts row key.
UPDATABLE = {
    "pid": "pid",
    "serverid": "serverid",
    "regdate": "regdate",
    "nextduedate": "nextduedate",
    "terminationdate": "terminationdate",
    "domain": "domain",
    "firstpaymentamount": "firstpaymentamount",
    "recurringamount": "recurringamount",
    "paymentmethod": "paymentmethod",
    "billingcycle": "billingcycle",
    "subscriptionid": "subscriptionid",
    "status": "status",
    "notes": "notes",
    "serviceusername": "username",
    "servicepassword": "password",
    "overideautosuspend": "overideautosuspend",
    "overidesuspenduntil": "overidesuspenduntil",
    "ns1": "ns1",
    "ns2": "ns2",
    "dedicatedip": "dedicatedip",
    "assignedips": "assignedips",
    "diskusage": "diskusage",
    "disklimit": "disklimit",
    "bwusage": "bwusage",
    "bwlimit": "bwlimit",
    "suspendreason": "suspensionreason",
    "promoid": "promoid",
    "lastupdate": "lastupdate",
}
#: UpdateClientProduct fields kept in integer columns of tblhosting: stored (and returned) as a
#: whole number.
INTEGER_COLUMNS = frozenset({"diskusage", "disklimit", "bwusage", "bwlimit"})
UNSETTABLE = {
    "domain",
    "serviceusername",
    "servicepassword",
    "subscriptionid",
    "ns1",
    "ns2",
    "dedicatedip",
    "assignedips",
    "notes",
    "suspendreason",
}

#: Module* action -> (canonical name, service status after success or None).
MODULE_ACTIONS = {
    "modulecreate": ("ModuleCreate", "Active"),
    "modulesuspend": ("ModuleSuspend", "Suspended"),
    "moduleunsuspend": ("ModuleUnsuspend", "Active"),
    "moduleterminate": ("ModuleTerminate", "Terminated"),
    "modulechangepw": ("ModuleChangePw", None),
    "modulechangepackage": ("ModuleChangePackage", None),
    "modulecustom": ("ModuleCustom", None),
}


class ApiError(Exception):
    """An action-level error: WHMCS answers ``{"result": "error", "message": ...}``."""


def service_row(
    hid: int, client_id: int, product: dict[str, Any], domain: str, **kw: str
) -> dict[str, Any]:
    """A new service row in GetClientsProducts' shape (every value a string, like the database)."""
    return {
        "id": str(hid),
        "qty": "1",
        "clientid": str(client_id),
        "orderid": str(hid),
        "ordernumber": str(1000 + hid),
        "pid": product["pid"],
        "regdate": kw["regdate"],
        "name": product["name"],
        "translated_name": product["name"],
        "groupname": product["groupname"],
        "translated_groupname": product["groupname"],
        "domain": domain,
        "dedicatedip": kw["dedicatedip"],
        "serverid": "0",
        "servername": "",
        "serverip": "",
        "serverhostname": "",
        "suspensionreason": "",
        "firstpaymentamount": kw["amount"],
        "recurringamount": kw["amount"],
        "paymentmethod": kw["paymentmethod"],
        "paymentmethodname": kw["paymentmethodname"],
        "billingcycle": kw["billingcycle"],
        "nextduedate": kw["nextduedate"],
        "status": kw["status"],
        "username": kw["username"],
        "password": kw["password"],
        "subscriptionid": "",
        "promoid": "0",
        "overideautosuspend": "",
        "overidesuspenduntil": "0000-00-00",
        "ns1": "",
        "ns2": "",
        "assignedips": "",
        "notes": "",
        "diskusage": kw["diskusage"],
        "disklimit": kw["disklimit"],
        "bwusage": "0",
        "bwlimit": "0",
        "lastupdate": "0000-00-00 00:00:00",
        "customfields": {"customfield": []},
        "configoptions": {"configoption": []},
    }


def assign_server(sim: "FakeWhmcs", row: dict[str, Any], server_id: int | None) -> None:
    """Point a service row at a server, filling the denormalised server columns like WHMCS's join
    does."""
    server = sim.servers.get(server_id) if server_id else None
    row["serverid"] = str(server["id"]) if server else "0"
    row["servername"] = server["name"] if server else ""
    row["serverip"] = server["ipaddress"] if server else ""
    row["serverhostname"] = server["hostname"] if server else ""


def dispatch(sim: "FakeWhmcs", action: str, params: dict[str, str]) -> dict[str, Any]:
    """Run ``action`` (case-insensitive); unknown actions are ``Command Not Found``."""
    name = action.lower()
    if name in MODULE_ACTIONS:
        return _module_action(sim, name, params)  # takes the lock itself: the hook runs outside it
    func = ACTIONS.get(name)
    if func is None:
        raise ApiError("Command Not Found")
    with sim.lock:
        return func(sim, params)


# --- helpers --------------------------------------------------------------------------------------


def _int(params: dict[str, str], key: str, default: int = 0) -> int:
    try:
        return int(params.get(key) or default)
    except ValueError:
        return default


#: rows a list action returns when ``limitnum`` is absent (every list action's documented default).
DEFAULT_LIMITNUM = 25


def _page(items: list, params: dict[str, str]) -> tuple[list, int]:
    start = max(_int(params, "limitstart"), 0)
    limit = _int(params, "limitnum", DEFAULT_LIMITNUM)
    return (items[start : start + limit] if limit > 0 else items[start:]), start


def _service(
    sim: "FakeWhmcs", params: dict[str, str], message: str = "Service ID Not Found"
) -> dict[str, Any]:
    row = sim.services.get(_int(params, "serviceid") or _int(params, "accountid"))
    if row is None:
        raise ApiError(message)
    return row


def _client(sim: "FakeWhmcs", client_id: int) -> dict[str, Any]:
    if client_id not in sim.clients:
        raise ApiError("Client Not Found")
    return sim.clients[client_id]


def _link(sim: "FakeWhmcs", params: dict[str, str]) -> tuple[int, int, dict[str, Any]]:
    uid, cid = _int(params, "user_id"), _int(params, "client_id")
    if uid not in sim.users:
        raise ApiError("User Not Found")
    _client(sim, cid)
    link = sim.links.get((uid, cid))
    if link is None:
        raise ApiError("User is not associated with client")
    return uid, cid, link


def _permissions(value: str) -> list[str]:
    names = [p.strip() for p in value.split(",") if p.strip()]
    for name in names:
        if name not in PERMISSIONS:
            raise ApiError(f"Invalid Permission: {name}")
    return names


def _hash(password: str) -> str:
    return "$2y$10$" + hashlib.sha256(password.encode()).hexdigest()[:53]


def _now() -> str:
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


# --- services -------------------------------------------------------------------------------------


def get_clients_products(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """GetClientsProducts: filters, paging (25 rows by default), ``"products": ""`` when nothing
    matches."""
    rows = [
        r
        for r in sim.services.values()
        if (not p.get("clientid") or r["clientid"] == p["clientid"])
        and (not p.get("serviceid") or r["id"] == p["serviceid"])
        and (not p.get("pid") or r["pid"] == p["pid"])
        and (not p.get("domain") or r["domain"].lower() == p["domain"].lower())
        and (not p.get("username2") or r["username"] == p["username2"])
    ]
    page, start = _page(rows, p)
    return {
        "result": "success",
        "clientid": p.get("clientid"),
        "serviceid": p.get("serviceid"),
        "pid": p.get("pid"),
        "domain": p.get("domain"),
        "totalresults": str(len(rows)),
        "startnumber": start,
        "numreturned": len(page),
        "products": {"product": [dict(r) for r in page]} if page else "",
    }


def update_client_product(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """UpdateClientProduct; like WHMCS, a field is set only when PHP finds its value non-empty:
    ``""`` and ``"0"`` are skipped (``diskusage=0`` is ignored), ``"00"`` is not. Usage and limits
    live in integer columns, so ``"00"`` is stored, and read back, as ``"0"``."""
    row = _service(sim, p)
    for param, key in UPDATABLE.items():
        value = p.get(param, "")
        if value in ("", "0"):
            continue
        if param in INTEGER_COLUMNS and value.isdigit():
            row[key] = str(int(value))
        elif param == "serverid":
            assign_server(sim, row, _int(p, "serverid"))
        elif param == "pid" and _int(p, "pid") in sim.products:
            product = sim.products[_int(p, "pid")]
            row.update(
                pid=product["pid"],
                name=product["name"],
                translated_name=product["name"],
                groupname=product["groupname"],
                translated_groupname=product["groupname"],
            )
        else:
            row[key] = value
    for key, field in p.items():
        if key.startswith("unset[") and field in UNSETTABLE:
            row[UPDATABLE[field]] = ""
    return {"result": "success", "serviceid": row["id"]}


def _module_action(sim: "FakeWhmcs", name: str, p: dict[str, str]) -> dict[str, Any]:
    action, new_status = MODULE_ACTIONS[name]
    with sim.lock:
        if not (p.get("serviceid") or p.get("accountid")):
            raise ApiError("Service ID is required")
        row = _service(sim, p, "Service ID not found")
        if not sim.products[int(row["pid"])]["module"]:
            raise ApiError("Service not assigned to a module")
        sim.module_calls.append((action, int(row["id"])))
        snapshot = dict(row)
    result = sim.module_hook(action, snapshot) if sim.module_hook else "success"
    if result != "success":
        raise ApiError(str(result))
    with sim.lock:
        if new_status:
            row["status"] = new_status
        if name == "modulesuspend":
            row["suspensionreason"] = p.get("suspendreason", "")
        if name == "modulechangepw" and p.get("servicepassword"):
            row["password"] = p["servicepassword"]
    return {"result": "success"}


def add_cancel_request(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """AddCancelRequest: one open request per service."""
    row = _service(sim, p)
    if any(c["relid"] == row["id"] for c in sim.cancel_requests):
        raise ApiError("Existing Cancellation Request Exists")
    now = _now()
    sim.cancel_requests.append(
        {
            "id": str(len(sim.cancel_requests) + 1),
            "date": now,
            "relid": row["id"],
            "reason": p.get("reason", ""),
            "type": p.get("type") or "End of Billing Period",
            "created_at": now,
            "updated_at": now,
        }
    )
    return {"result": "success", "serviceid": row["id"], "userid": row["clientid"]}


def get_cancelled_packages(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """GetCancelledPackages, paged (25 by default), in the documented example's shape: counts as
    strings and the rows flattened to ``packages[package][N][key]``."""
    page, start = _page(sim.cancel_requests, p)
    reply: dict[str, Any] = {
        "result": "success",
        "totalresults": str(len(sim.cancel_requests)),
        "startnumber": str(start),
        "numreturned": str(len(page)),
    }
    for index, row in enumerate(page):
        reply.update({f"packages[package][{index}][{k}]": v for k, v in row.items()})
    return reply


# --- clients, products, servers -------------------------------------------------------------------


def get_clients_details(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """GetClientsDetails by ``clientid`` or ``email``: ``result``, ``client`` and ``stats``, as
    documented (no top-level copy of the client)."""
    if p.get("clientid"):
        c = _client(sim, _int(p, "clientid"))
    elif p.get("email"):
        c = next(
            (c for c in sim.clients.values() if c["email"].lower() == p["email"].lower()), None
        )
        if c is None:
            raise ApiError("Client Not Found")
    else:
        raise ApiError("Either clientid Or email Is Required")
    users = [
        {
            "id": uid,
            "name": f"{sim.users[uid]['firstname']} {sim.users[uid]['lastname']}",
            "email": sim.users[uid]["email"],
            "is_owner": link["owner"],
        }
        for (uid, cid), link in sim.links.items()
        if cid == c["id"]
    ]
    owner = next(
        (uid for (uid, cid), link in sim.links.items() if cid == c["id"] and link["owner"]), 0
    )
    client = {
        "client_id": c["id"],
        "owner_user_id": owner,
        "userid": c["id"],
        "id": c["id"],
        "uuid": f"00000000-0000-4000-8000-{c['id']:012d}",
        "firstname": c["firstname"],
        "lastname": c["lastname"],
        "fullname": f"{c['firstname']} {c['lastname']}",
        "companyname": c["companyname"],
        "email": c["email"],
        "language": c["language"],
        "status": c["status"],
        "currency": 1,
        "currency_code": c["currency_code"],
        "customfields": [],
        "users": {"user": users},
    }
    return {"result": "success", "client": client, "stats": {}}


def get_products(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """GetProducts filtered on ``pid`` (one or a comma list), ``gid``, ``module``; ``pid`` and
    ``gid`` are JSON numbers, as documented."""
    pids = {x.strip() for x in p.get("pid", "").split(",") if x.strip()}
    rows = [
        dict(
            r,
            pid=int(r["pid"]),
            gid=int(r["gid"]),
            pricing={},
            customfields={"customfield": []},
            configoptions={"configoption": []},
        )
        for r in sim.products.values()
        if (not pids or r["pid"] in pids)
        and (not p.get("gid") or r["gid"] == p["gid"])
        and (not p.get("module") or r["module"] == p["module"])
    ]
    for row in rows:
        row.pop("groupname")
    return {"result": "success", "totalresults": len(rows), "products": {"product": rows}}


def get_servers(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """GetServers (real ints and bools; never credentials), optionally only the server of
    ``serviceId``; ``fetchStatus`` is echoed as ``""`` when not asked for, as documented."""
    wanted = None
    if p.get("serviceId"):
        row = sim.services.get(_int(p, "serviceId"))
        wanted = int(row["serverid"]) if row else -1
    servers = []
    for s in sim.servers.values():
        if wanted is not None and s["id"] != wanted:
            continue
        active = sum(
            1
            for r in sim.services.values()
            if r["serverid"] == str(s["id"]) and r["status"] == "Active"
        )
        servers.append(
            dict(
                s,
                activeServices=active,
                percentUsed=round(100 * active / s["maxAllowedServices"], 2),
                status={"http": False, "load": "", "uptime": ""},
            )
        )
    return {
        "result": "success",
        "servers": servers,
        "fetchStatus": True if p.get("fetchStatus") in ("1", "true") else "",
    }


def get_payment_methods(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """GetPaymentMethods: the activated gateways (``sim.payment_methods``) as
    ``{module, displayname}`` rows."""
    rows = [{"module": module, "displayname": name} for module, name in sim.payment_methods.items()]
    return {
        "result": "success",
        "totalresults": len(rows),
        "paymentmethods": {"paymentmethod": rows},
    }


# --- users ----------------------------------------------------------------------------------------


def add_user(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """AddUser; the e-mail address must be new."""
    for key in ("firstname", "lastname", "email", "password2"):
        if not p.get(key):
            raise ApiError(f"You did not provide required {key}")
    if sim.user_by_email(p["email"]):
        raise ApiError("A user already exists with that email address")
    uid = sim.add_user(p["firstname"], p["lastname"], p["email"], password=p["password2"])
    return {"result": "success", "user_id": str(uid)}


def create_client_invite(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """CreateClientInvite: records the invite (accepting one has no API)."""
    cid = _int(p, "client_id")
    _client(sim, cid)
    user = sim.user_by_email(p.get("email", ""))
    if user and (user["id"], cid) in sim.links:
        raise ApiError("User already associated with client")
    perms = _permissions(p.get("permissions", ""))
    sim.invites.append(
        {"client_id": cid, "email": p.get("email", ""), "permissions": perms, "created": _now()}
    )
    sim.sent_emails.append({"to": p.get("email", ""), "template": "Account Invite"})
    return {"result": "success"}


def get_users(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """GetUsers: ``search`` matches the start of the e-mail, first name, last name or full name
    (case-insensitive), sorting, paging; ids, bools as real JSON types."""
    term = p.get("search", "").lower()

    def fields(u: dict[str, Any]) -> tuple[str, ...]:
        full = f"{u['firstname']} {u['lastname']}"
        return tuple(f.lower() for f in (u["email"], u["firstname"], u["lastname"], full))

    rows = [u for u in sim.users.values() if not term or any(f.startswith(term) for f in fields(u))]
    rows.sort(key=lambda u: u["id"], reverse=p.get("sorting", "ASC").upper() == "DESC")
    page, start = _page(rows, p)
    users = [
        {
            "id": u["id"],
            "firstname": u["firstname"],
            "lastname": u["lastname"],
            "email": u["email"],
            "datecreated": u["datecreated"],
            "validationdata": "",
            "clients": [
                {"id": cid, "isOwner": link["owner"]}
                for (uid, cid), link in sim.links.items()
                if uid == u["id"]
            ],
        }
        for u in page
    ]
    return {
        "result": "success",
        "totalresults": len(rows),
        "startnumber": start,
        "numreturned": len(users),
        "users": users,
    }


def get_user_permissions(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """GetUserPermissions (an owner has every permission)."""
    uid, cid, link = _link(sim, p)
    return {
        "result": "success",
        "user_id": uid,
        "client_id": cid,
        "is_owner": link["owner"],
        "permissions": list(link["permissions"]),
    }


def update_user_permissions(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """UpdateUserPermissions; never on the owner."""
    _uid, _cid, link = _link(sim, p)
    if link["owner"]:
        raise ApiError("Permissions cannot be set on a client owner")
    link["permissions"] = _permissions(p.get("permissions", ""))
    return {"result": "success"}


def get_permissions_list(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """GetPermissionsList: answers ``status``, not ``result``."""
    return {"status": "success", "permissions": {"permission": list(PERMISSIONS)}}


def delete_user_client(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """DeleteUserClient; the owner cannot be removed."""
    uid, cid, link = _link(sim, p)
    if link["owner"]:
        raise ApiError("You cannot remove the account owner")
    del sim.links[(uid, cid)]
    return {"result": "success"}


def reset_password(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """ResetPassword by ``id`` or ``email``: records the reset e-mail in ``sent_emails``."""
    user = (
        sim.users.get(_int(p, "id"))
        if p.get("id")
        else sim.user_by_email(p.get("email", "") or "\0")
    )
    if user is None:
        raise ApiError("User Not Found")
    sim.sent_emails.append({"to": user["email"], "template": "Password Reset Validation"})
    return {"result": "success"}


def validate_login(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """ValidateLogin with ``email`` and ``password2`` (``userid`` and ``twoFactorEnabled`` as
    strings, as documented)."""
    user = sim.user_by_email(p.get("email", "") or "\0")
    if user is None or not user["password"] or user["password"] != p.get("password2"):
        raise ApiError("Email or Password Invalid")
    return {
        "result": "success",
        "userid": str(user["id"]),
        "passwordhash": _hash(user["password"]),
        "twoFactorEnabled": "false",
    }


def create_sso_token(sim: "FakeWhmcs", p: dict[str, str]) -> dict[str, Any]:
    """CreateSsoToken for a client or a user; the token is recorded in ``sso_tokens``."""
    if p.get("client_id"):
        _client(sim, _int(p, "client_id"))
    elif p.get("user_id"):
        if _int(p, "user_id") not in sim.users:
            raise ApiError("User Not Found")
    else:
        raise ApiError("A client_id or user_id is required")
    token = secrets.token_hex(20)
    sim.sso_tokens.append(
        {
            "token": token,
            "client_id": p.get("client_id"),
            "user_id": p.get("user_id"),
            "destination": p.get("destination", ""),
            "service_id": p.get("service_id"),
        }
    )
    return {
        "result": "success",
        "access_token": token,
        "redirect_url": f"https://billing.example.com/oauth/singlesignon.php?access_token={token}",
    }


ACTIONS: dict[str, Callable[["FakeWhmcs", dict[str, str]], dict[str, Any]]] = {
    "getclientsproducts": get_clients_products,
    "updateclientproduct": update_client_product,
    "addcancelrequest": add_cancel_request,
    "getcancelledpackages": get_cancelled_packages,
    "getclientsdetails": get_clients_details,
    "getproducts": get_products,
    "getservers": get_servers,
    "getpaymentmethods": get_payment_methods,
    "adduser": add_user,
    "createclientinvite": create_client_invite,
    "getusers": get_users,
    "getuserpermissions": get_user_permissions,
    "updateuserpermissions": update_user_permissions,
    "getpermissionslist": get_permissions_list,
    "deleteuserclient": delete_user_client,
    "resetpassword": reset_password,
    "validatelogin": validate_login,
    "createssotoken": create_sso_token,
}
