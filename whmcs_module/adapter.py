"""``dispatch``: a WHMCS module function name and its params → what that WHMCS function returns.

Thin over the library: WHMCS's params become a :class:`~puq_bridge.whmcs.params.ModuleParams` here,
once; provisioning goes to :class:`~puq_bridge.provisioning.Provisioner`, the client area to the
store and the renderer, the usage update to the sync engine. ``dispatch`` never raises: a bad param,
an unreachable Zimbra or a bug becomes a readable, secret-free string (or the array form the
function needs).
"""

from __future__ import annotations

import html
import logging
import time
from typing import Any, Callable, Mapping

from puq_bridge.errors import ParamsError, PuqBridgeError
from puq_bridge.logs import mask_secrets
from puq_bridge.provisioning import Provisioner
from puq_bridge.usage.model import service_total_space
from puq_bridge.whmcs.params import ModuleParams, config_options
from whmcs_module import selfservice_views, server_sync, signon_views, views
from whmcs_module.context import AdapterContext

log = logging.getLogger(__name__)

#: the catalog key of the notice a client sees when its page cannot be built (details: the log).
CLIENT_NOTICE_KEY = "notice.unavailable"
#: that notice in English: the forwarder's fallback, and the text when no catalog has the key.
CLIENT_NOTICE = "Service details are temporarily unavailable. Please try again later."

Handler = Callable[[ModuleParams, AdapterContext], Any]


def meta_data(params: ModuleParams | None = None, ctx: AdapterContext | None = None) -> dict:
    """MetaData: how WHMCS lists the module.

    Only ``DefaultSSLPort``: Zimbra's admin port 7071 speaks HTTPS only, so there is no plain-http
    default to offer (the bridge uses https for a server known from WHMCS either way).
    """
    return {
        "DisplayName": "Zimbra mail (puq-bridge)",
        "APIVersion": "1.1",
        "RequiresServer": True,
        "DefaultSSLPort": "7071",
        "ServiceSingleSignOnLabel": signon_views.SERVICE_SSO_LABEL,
        "AdminSingleSignOnLabel": signon_views.ADMIN_SSO_LABEL,
        **server_sync.LIST_ACCOUNTS_META,
    }


def config_options_fn(
    params: ModuleParams | None = None, ctx: AdapterContext | None = None
) -> dict:
    """ConfigOptions: the product's module settings (configoption1..6)."""
    return config_options()


def check_connection(params: ModuleParams, ctx: AdapterContext) -> dict:
    """TestConnection: authenticate and GetVersionInfo with what the admin typed into WHMCS's
    server form (host, port, user, password), even when a ``[[zimbra]]`` entry serves that server
    (:meth:`~whmcs_module.context.AdapterContext.typed_entry`); a client of its own, closed after.
    """
    entry = ctx.typed_entry(params.server)
    zimbra = ctx.zimbra_factory(entry)
    try:
        zimbra.authenticate()
        info = zimbra.version_info()
    finally:
        zimbra.close()
    log.info("TestConnection: Zimbra %s on %s (%s)", info.version, info.host, entry.url)
    return {"success": True, "error": ""}


def _create(params: ModuleParams, ctx: AdapterContext) -> str:
    """CreateAccount: the domain with the product's plan and a preauth key, the primary mailbox,
    and for tenancy ``domain`` that mailbox as the domain's delegated admin."""
    target, settings, password = params.target, params.product, params.required_password()
    views.remember_settings(ctx, target.service_id, settings, params.options)
    total = service_total_space(params.options, settings.total_space_bytes)
    provisioner = Provisioner(ctx.zimbra_for(params.server), ctx.domain_keys)
    provisioner.create(target, settings, password, total_bytes=total)
    return "success"


def _suspend(params: ModuleParams, ctx: AdapterContext) -> str:
    """SuspendAccount: the domain's status after the product's suspension policy."""
    target, policy = params.target, params.product
    policy.suspension_policy  # checked before the server is looked up: its error says more
    Provisioner(ctx.zimbra_for(params.server)).suspend(target, policy)
    return "success"


def _unsuspend(params: ModuleParams, ctx: AdapterContext) -> str:
    """UnsuspendAccount: the domain active again."""
    target = params.target
    Provisioner(ctx.zimbra_for(params.server)).unsuspend(target)
    return "success"


def _terminate(params: ModuleParams, ctx: AdapterContext) -> str:
    """TerminateAccount: the domain and everything in it deleted."""
    target = params.target
    Provisioner(ctx.zimbra_for(params.server)).terminate(target)
    return "success"


def _change_password(params: ModuleParams, ctx: AdapterContext) -> str:
    """ChangePassword: the primary mailbox's password."""
    target, password = params.target, params.required_password()
    Provisioner(ctx.zimbra_for(params.server)).change_password(target, password)
    return "success"


def _change_package(params: ModuleParams, ctx: AdapterContext) -> str:
    """ChangePackage: the product's plan, quota and class of service re-applied; the delegated
    admin kept."""
    target, settings = params.target, params.product
    views.remember_settings(ctx, target.service_id, settings, params.options)
    total = service_total_space(params.options, settings.total_space_bytes)
    provisioner = Provisioner(ctx.zimbra_for(params.server), ctx.domain_keys)
    provisioner.change_package(target, settings, total_bytes=total)
    return "success"


def admin_custom_buttons(
    params: ModuleParams | None = None, ctx: AdapterContext | None = None
) -> dict:
    """AdminCustomButtonArray: label → function."""
    return {"Sync usage now": "SyncUsage"}


FUNCTIONS: dict[str, Handler] = {
    "MetaData": meta_data,
    "ConfigOptions": config_options_fn,
    "TestConnection": check_connection,
    "CreateAccount": _create,
    "SuspendAccount": _suspend,
    "UnsuspendAccount": _unsuspend,
    "TerminateAccount": _terminate,
    "ChangePassword": _change_password,
    "ChangePackage": _change_package,
    "ClientArea": views.client_area,
    "UsageUpdate": views.usage_update,
    "AdminServicesTabFields": views.admin_services_tab_fields,
    "AdminCustomButtonArray": admin_custom_buttons,
    "SyncUsage": views.sync_usage,
    "ServiceSingleSignOn": signon_views.service_single_sign_on,
    "AdminSingleSignOn": signon_views.admin_single_sign_on,
    "MailboxSignOn": signon_views.mailbox_sign_on,
    "AdminPanelSignOn": signon_views.admin_panel_sign_on,
    "ClientAreaAllowedFunctions": signon_views.client_area_allowed_functions,
    **selfservice_views.FUNCTIONS,
    "ListAccounts": server_sync.list_accounts,
}


def dispatch(function: str, params: Mapping[str, Any], ctx: AdapterContext) -> Any:
    """Run one WHMCS module function; returns ``"success"``, a readable error string, or the
    function's array.

    ``params`` is the JSON object the forwarder sent; it is read here, once, into a
    :class:`~puq_bridge.whmcs.params.ModuleParams`. Never raises and never returns a secret
    (passwords of the params and of the config are masked).
    """
    handler = FUNCTIONS.get(function)
    if handler is None:
        return f"unknown module function {str(function)[:60]!r}"
    started = time.perf_counter()
    read = ModuleParams()
    try:
        read = ModuleParams.read(params)
        result = handler(read, ctx)
        outcome = "ok" if not isinstance(result, str) or result == "success" else "error"
        if isinstance(result, str):
            result = scrub(result, read, ctx)
        elif function == "AdminServicesTabFields":
            # server messages: mask the raw text, then escape it for HTML
            result = {k: html.escape(scrub(v, read, ctx)) for k, v in result.items()}
    except PuqBridgeError as err:
        message = scrub(str(err), read, ctx)
        result, outcome = _failure(function, message, read, ctx), "error"
        if function == "ClientArea" or not isinstance(err, ParamsError):
            # the client never sees the details: they go to the log
            log.warning("%s for service %s: %s", function, read.service_id_text, message)
    except Exception as err:  # a bug must not reach WHMCS as a traceback
        log.error(
            "%s for service %s failed unexpectedly: %s",
            function,
            read.service_id_text,
            type(err).__name__,
        )
        log.debug("%s traceback", function, exc_info=True)
        message = f"internal error in {function} ({type(err).__name__}); see the puq-bridge log"
        result, outcome = _failure(function, message, read, ctx), "error"
    elapsed_ms = (time.perf_counter() - started) * 1000
    log.info("%s service=%s %s in %.1f ms", function, read.service_id_text, outcome, elapsed_ms)
    return result


def _failure(function: str, message: str, params: ModuleParams, ctx: AdapterContext) -> Any:
    """A failed call in the shape its WHMCS function returns (ClientArea: a generic notice, never
    ``message``)."""
    if function == "TestConnection":
        return {"success": False, "error": message}
    if function == "ClientArea":
        return views.client_area_result(client_notice(params, ctx))
    if function == "AdminServicesTabFields":
        return {"puq-bridge": html.escape(message)}
    return message


def client_notice(params: ModuleParams, ctx: AdapterContext) -> str:
    """The markup of the short notice a client sees instead of a page that failed, in the client's
    language.

    It says nothing about the cause: server names, Zimbra URLs and store paths are for the log, not
    the client. The text is the catalogs' ``notice.unavailable``; :data:`CLIENT_NOTICE` when a
    catalog (an operator's older override) lacks it or cannot be read.
    """
    text = CLIENT_NOTICE
    try:
        renderer = ctx.renderer
        catalog = renderer.catalog(renderer.language_for(params.client.language or None))
        if catalog.has(CLIENT_NOTICE_KEY):
            text = catalog.text(CLIENT_NOTICE_KEY)
    except Exception as err:  # a broken catalog must not turn a notice into a traceback
        log.warning("ClientArea notice: translations unavailable (%s); showing English", err)
    return (
        '<div class="alert alert-warning" role="alert" data-puq="notice-unavailable">'
        f"{html.escape(text)}</div>"
    )


def scrub(text: str, params: ModuleParams, ctx: AdapterContext | None = None) -> str:
    """``text`` with the params' and the config's secret values masked
    (:func:`puq_bridge.logs.mask_secrets`)."""
    secrets = params.secrets()
    if ctx is not None:
        secrets += ctx.secrets()
    return mask_secrets(text, secrets)
