"""The adapter's sign-on functions: ServiceSingleSignOn and AdminSingleSignOn (WHMCS's own), and the
client-area functions MailboxSignOn and AdminPanelSignOn (the buttons of the service page).

Each answers WHMCS's single sign-on shape: ``{"success": True, "redirectTo": url}``, or
``{"success": False, "errorMsg": text}`` where ``text`` is, for a client, the translated message of
the refusal's reason in the client's language (the precise cause goes to the log only) and, for
staff (AdminSingleSignOn), the precise cause itself. The forwarder redirects the browser to
``redirectTo`` (WHMCS does it itself for the two SingleSignOn functions).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from puq_bridge.errors import ParamsError, PuqBridgeError, SignOnError
from puq_bridge.signon import Origins, SignOn
from puq_bridge.whmcs.params import ModuleParams

if TYPE_CHECKING:
    from whmcs_module.context import AdapterContext

log = logging.getLogger(__name__)

#: MetaData labels of WHMCS's sign-on buttons (MetaData has no client: the English catalog's text).
SERVICE_SSO_LABEL = "Log in to webmail"
ADMIN_SSO_LABEL = "Log in to the Zimbra admin console"
#: what a client is told when no catalog can be read (and by the forwarder when the bridge is down).
SIGNON_NOTICE = "Logging in is not possible right now. Please try again later or contact support."
#: ClientAreaAllowedFunctions: the service page's forms may call these (WHMCS ignores the others).
CLIENT_FUNCTIONS = {
    "Log in to a mailbox": "MailboxSignOn",
    "Log in to the admin panel": "AdminPanelSignOn",
}


def client_area_allowed_functions(
    params: ModuleParams | None = None, ctx: "AdapterContext | None" = None
) -> dict:
    """ClientAreaAllowedFunctions: the client-area functions the service page's forms post to."""
    from whmcs_module.selfservice_views import CLIENT_FUNCTIONS as SELF_SERVICE

    return {**CLIENT_FUNCTIONS, **SELF_SERVICE}


def sign_on(params: ModuleParams, ctx: "AdapterContext") -> SignOn:
    """A :class:`~puq_bridge.signon.SignOn` on the server WHMCS names, recording in the store."""
    entry = ctx.entry_for(params.server)
    origins = Origins.of(entry, params.server.hostname)
    return SignOn(ctx.zimbra(entry), origins, keys=ctx.domain_keys, store=ctx.store)


def service_single_sign_on(params: ModuleParams, ctx: "AdapterContext") -> dict:
    """ServiceSingleSignOn: the client into webmail as the service's primary mailbox."""

    def signed(signon: SignOn) -> str:
        return signon.webmail(
            params.target,
            function="ServiceSingleSignOn",
            service_status=_status(params),
            tenancy=params.product.tenancy,
        )

    return _answer("ServiceSingleSignOn", params, ctx, signed)


def mailbox_sign_on(params: ModuleParams, ctx: "AdapterContext") -> dict:
    """MailboxSignOn (client area, POST field ``mailbox``): the client into webmail as a mailbox of
    its domain, unless the product turns that off (setting 8)."""

    def signed(signon: SignOn) -> str:
        target = params.target
        if not params.product.mailbox_signon:
            raise SignOnError(
                "disabled", f"service {target.service_id}: mailbox sign-on is off for the product"
            )
        if not params.signon_mailbox:
            raise SignOnError(
                "foreign_mailbox", f"service {target.service_id}: MailboxSignOn without a mailbox"
            )
        return signon.webmail(
            target,
            function="MailboxSignOn",
            service_status=_status(params),
            tenancy=params.product.tenancy,
            mailbox=params.signon_mailbox,
        )

    return _answer("MailboxSignOn", params, ctx, signed)


def admin_panel_sign_on(params: ModuleParams, ctx: "AdapterContext") -> dict:
    """AdminPanelSignOn (client area): the primary mailbox into the admin console as the delegated
    admin of its domain (tenancy ``domain``)."""

    def signed(signon: SignOn) -> str:
        return signon.admin_console(
            params.target,
            function="AdminPanelSignOn",
            service_status=_status(params),
            tenancy=params.product.tenancy,
        )

    return _answer("AdminPanelSignOn", params, ctx, signed)


def admin_single_sign_on(params: ModuleParams, ctx: "AdapterContext") -> dict:
    """AdminSingleSignOn: WHMCS staff into the server's admin console as the bridge's admin."""
    try:
        entry = ctx.entry_for(params.server)
        url = sign_on(params, ctx).staff_console(entry.admin_user, function="AdminSingleSignOn")
    except PuqBridgeError as err:
        log.warning("AdminSingleSignOn refused: %s", err)
        return {"success": False, "errorMsg": str(err)}
    return {"success": True, "redirectTo": url}


def _answer(
    function: str,
    params: ModuleParams,
    ctx: "AdapterContext",
    signed: Callable[[SignOn], str],
) -> dict:
    """Run a client's sign-on; a refusal becomes the client's message and one log line."""
    try:
        return {"success": True, "redirectTo": signed(sign_on(params, ctx))}
    except SignOnError as err:
        reason, detail = err.reason, str(err)
    except ParamsError as err:
        reason, detail = "unavailable", f"service {params.service_id_text}: {err}"
    except PuqBridgeError as err:  # the server's config, an unreachable Zimbra
        reason, detail = "unavailable", f"service {params.service_id_text}: {err}"
    log.warning("%s refused (%s): %s", function, reason, detail)
    return {"success": False, "errorMsg": client_message(reason, params, ctx)}


def client_message(reason: str, params: ModuleParams, ctx: "AdapterContext") -> str:
    """The refusal's text in the client's language (``signon.error.<reason>``)."""
    key = f"signon.error.{reason}"
    try:
        renderer = ctx.renderer
        catalog = renderer.catalog(renderer.language_for(params.client.language or None))
        if catalog.has(key):
            return catalog.text(key)
    except Exception as err:  # a broken catalog must not hide the refusal
        log.warning("sign-on message: translations unavailable (%s); showing English", err)
    return SIGNON_NOTICE


def _status(params: ModuleParams) -> str:
    """The service's status in WHMCS (the model's ``domainstatus``, else the params' ``status``)."""
    return params.service.text("status") or params.status
