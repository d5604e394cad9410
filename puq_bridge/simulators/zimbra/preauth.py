"""The web side of the fake Zimbra: ``GET /service/preauth`` and the pages it leads to (a mixin of
:class:`~puq_bridge.simulators.zimbra.app.FakeZimbra`).

Checked in the order of Zimbra's ``PreAuthServlet`` and ``LdapProvisioning.preAuthAccount``: the
required parameters (``account``, ``timestamp``, ``expires``, ``preauth``), the account (by name or
id; an unknown one fails as authentication), its status (a domain that is not active makes its
accounts inactive), admin rights when ``admin=1``, the domain's ``zimbraPreAuthKey`` ("domain is not
configured for preauth"), the timestamp within five minutes of this server's clock, and the
HMAC-SHA1 of ``account|[1|]by|expires|timestamp`` keyed with the key's text, compared without regard
to case.
Every failure is HTTP 400 with Jetty's error page, whose text is the exception's message only
("authentication failed for [name]"): why it failed is in :attr:`WebLogin.preauth_log`, as in
Zimbra's own log. Success sets ``ZM_AUTH_TOKEN`` (``ZM_ADMIN_AUTH_TOKEN`` for the admin console) and
redirects to ``/zimbra/mail`` (``/zimbraAdmin``) or to ``redirectURL``; those pages greet the
account whose cookie they get, and show a login form to anyone else.

The global admin of the simulator (``admin_user``) counts as an account of its domain, whose
``zimbraPreAuthKey`` is that domain's (add the domain for it to have one).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import time

from werkzeug.wrappers import Request, Response

WINDOW_MS = 5 * 60 * 1000
COOKIE = "ZM_AUTH_TOKEN"
ADMIN_COOKIE = "ZM_ADMIN_AUTH_TOKEN"
INACTIVE = ("locked", "lockout", "pending", "closed", "suspended", "shutdown")
_TRUE = ("1", "true", "TRUE", "True")


class PreAuthFailed(Exception):
    """A preauth the servlet refuses: ``message`` goes to the page, ``reason`` to the log."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.message, self.reason = message, reason


class WebLogin:
    """``/service/preauth``, ``/zimbra/…`` and ``/zimbraAdmin/…``; ``preauth_log`` lists every
    preauth request: account, admin, ok, reason."""

    def _init_web(self) -> None:
        """Empty web state (called by the constructor); ``clock`` gives epoch seconds."""
        self.preauth_log: list[dict] = []
        self.web_sessions: dict[str, dict] = {}
        self.clock = time.time

    def web(self, request: Request) -> Response:
        """Answer a request outside the admin SOAP endpoint (404 for anything unknown)."""
        path = request.path.rstrip("/") or "/"
        if path == "/service/preauth":
            return self._preauth(request)
        if path == "/zimbraAdmin" or path.startswith("/zimbraAdmin/"):
            return self._landing(request, admin=True)
        if path == "/zimbra" or path.startswith("/zimbra/"):
            return self._landing(request, admin=False)
        return Response("not found", status=404, content_type="text/plain")

    # --- /service/preauth -----------------------------------------------------------------------

    def _preauth(self, request: Request) -> Response:
        args = request.args
        admin = args.get("admin", "0") == "1"
        entry = {"account": args.get("account", ""), "admin": admin, "ok": False, "reason": ""}
        try:
            with self.lock:
                name = self._verify_preauth(args, admin)
                token = secrets.token_hex(24)
                self.web_sessions[token] = {"account": name, "admin": admin}
        except PreAuthFailed as failed:
            entry["reason"] = failed.reason
            with self.lock:
                self.preauth_log.append(entry)
            return _error_page(request.path, failed.message)
        entry.update(ok=True, account=name)
        with self.lock:
            self.preauth_log.append(entry)
        target = args.get("redirectURL") or ("/zimbraAdmin" if admin else "/zimbra/mail")
        response = Response(status=302, headers={"Location": target})
        response.set_cookie(ADMIN_COOKIE if admin else COOKIE, token, path="/", httponly=True)
        return response

    def _verify_preauth(self, args, admin: bool) -> str:
        for required in ("preauth", "account", "timestamp", "expires"):
            if args.get(required) is None:
                raise PreAuthFailed(
                    f"invalid request: missing required param: {required}", "missing param"
                )
        account, by = args["account"], args.get("by", "name")
        try:
            timestamp, expires = int(args["timestamp"]), int(args["expires"])
        except ValueError:
            raise PreAuthFailed("invalid request: bad timestamp", "bad number") from None
        name, attrs = self._web_account(by, account)
        self._check_active(name, attrs)
        if admin and not any(
            attrs.get(flag, "FALSE") in _TRUE
            for flag in (
                "zimbraIsAdminAccount",
                "zimbraIsDelegatedAdminAccount",
                "zimbraIsDomainAdminAccount",
            )
        ):
            raise PreAuthFailed("permission denied: not an admin account", "not an admin")
        domain = self.domains.get(name.rpartition("@")[2], {"attrs": {}})
        key = domain["attrs"].get("zimbraPreAuthKey")
        if not key:
            raise PreAuthFailed(
                "invalid request: domain is not configured for preauth", "no preauth key"
            )
        if abs(self.clock() * 1000 - timestamp) > WINDOW_MS:
            raise PreAuthFailed(
                f"authentication failed for [{name}]", "preauth timestamp is too old"
            )
        fields = [account, "1", by] if admin else [account, by]
        data = "|".join([*fields, str(expires), str(timestamp)]).encode("utf-8")
        expected = hmac.new(key.encode("utf-8"), data, hashlib.sha1).hexdigest()
        if not hmac.compare_digest(expected, args["preauth"].lower()):
            raise PreAuthFailed(f"authentication failed for [{name}]", "preauth mismatch")
        return name

    def _web_account(self, by: str, value: str) -> tuple[str, dict]:
        if by == "name" and value.lower() == self.admin_user.lower():
            return self.admin_user, {"zimbraIsAdminAccount": "TRUE"}
        alias = self.aliases.get(value.lower()) if by == "name" else None
        if alias is not None and alias["type"] == "account":  # found by alias, as on Zimbra
            value, by = alias["target"], "name"
        for name, account in self.accounts.items():
            if (by == "name" and name == value.lower()) or (by == "id" and account["id"] == value):
                return name, account["attrs"]
        raise PreAuthFailed(f"authentication failed for [{value}]", "account not found")

    def _check_active(self, name: str, attrs: dict) -> None:
        domain = self.domains.get(name.rpartition("@")[2], {"attrs": {}})
        status = domain["attrs"].get("zimbraDomainStatus", "active")
        if status == "active":
            status = attrs.get("zimbraAccountStatus", "active")
        if status == "maintenance":
            raise PreAuthFailed("account is in maintenance mode", "maintenance")
        if status in INACTIVE:
            raise PreAuthFailed(f"account is not active: {name}", f"status {status}")

    # --- the pages a sign-on leads to -----------------------------------------------------------

    def _landing(self, request: Request, *, admin: bool) -> Response:
        token = request.cookies.get(ADMIN_COOKIE if admin else COOKIE, "")
        with self.lock:
            session = self.web_sessions.get(token)
            if session is None or session["admin"] != admin:
                return _page("login", "Zimbra: sign in", "Sign in to continue.", "")
            who = session["account"]
            domains = sorted(
                g["target_name"]
                for g in getattr(self, "grants", [])
                if g["grantee_name"] == who and g["target_type"] == "domain"
            )
        if admin:
            managed = ", ".join(domains) or "all domains"
            return _page(
                "admin-console",
                "Zimbra Administration",
                f"Signed in to the administration console as {who}; domains: {managed}.",
                who,
                domains=" ".join(domains),
            )
        return _page("webmail", "Zimbra Web Client", f"Signed in as {who}.", who)


def _page(kind: str, title: str, text: str, account: str, *, domains: str = "") -> Response:
    e = html.escape
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>'
        f'<main data-zimbra="{e(kind)}" data-account="{e(account)}" data-domains="{e(domains)}">'
        f"<h1>{e(title)}</h1><p>{e(text)}</p></main></body></html>"
    )
    return Response(body, status=200, content_type="text/html; charset=utf-8")


def _error_page(path: str, message: str) -> Response:
    e = html.escape
    body = (
        '<html><head><meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>'
        f"<title>Error 400 {e(message)}</title></head><body><h2>HTTP ERROR 400</h2>"
        f"<p>Problem accessing {e(path)}. Reason:<pre>    {e(message)}</pre></p></body></html>"
    )
    return Response(body, status=400, content_type="text/html; charset=utf-8")
