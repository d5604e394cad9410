"""``dispatch``: a WHMCS module function name and its params → the value that WHMCS function must return.

Thin over the library: provisioning goes to :class:`~puq_bridge.provisioning.Provisioner`, the client area to the
store and the renderer, the usage update to the sync engine. ``dispatch`` never raises: a bad param, an unreachable
Zimbra or a bug becomes a readable, secret-free string (or the array form the function needs).
"""

from __future__ import annotations

import html
import logging
import time
from typing import Any, Callable, Mapping

from puq_bridge.errors import ParamsError, PuqBridgeError
from puq_bridge.logs import mask_secrets
from puq_bridge.provisioning import (
    ProductSettings,
    Provisioner,
    ServiceTarget,
    config_options,
    required_password,
)
from whmcs_module import views
from whmcs_module.context import AdapterContext

log = logging.getLogger(__name__)

#: params whose values are secrets (scrubbed from every message).
SECRET_PARAMS = ("password", "serverpassword", "serveraccesshash")
#: the catalog key of the notice a client sees when its page cannot be built (the details go to the log).
CLIENT_NOTICE_KEY = "notice.unavailable"

Handler = Callable[[Mapping[str, Any], AdapterContext], Any]


def meta_data(params: Mapping[str, Any], ctx: AdapterContext) -> dict:
    """MetaData: how WHMCS lists the module."""
    return {
        "DisplayName": "Zimbra mail (puq-bridge)",
        "APIVersion": "1.1",
        "RequiresServer": True,
        "DefaultNonSSLPort": "7071",
        "DefaultSSLPort": "7071",
    }


def config_options_fn(params: Mapping[str, Any], ctx: AdapterContext) -> dict:
    """ConfigOptions: the product's module settings (configoption1..6)."""
    return config_options()


def check_connection(params: Mapping[str, Any], ctx: AdapterContext) -> dict:
    """TestConnection: authenticate and GetVersionInfo against the server the params describe."""
    zimbra = ctx.zimbra_for_params(params)
    zimbra.authenticate()
    info = zimbra.version_info()
    log.info("TestConnection: Zimbra %s on %s", info.version, info.host)
    return {"success": True, "error": ""}


def _life_cycle(method: str) -> Handler:
    def handler(params: Mapping[str, Any], ctx: AdapterContext) -> str:
        # The service's own params are checked before the server is looked up: their errors say more.
        target = ServiceTarget.from_params(params)
        settings = ProductSettings.from_params(params)
        if method in ("create", "change_password"):
            required_password(params)
        if method in (
            "create",
            "change_package",
        ):  # the sync and `render` never get module settings: keep them
            views.remember_settings(ctx, target.service_id, settings)
        getattr(Provisioner(ctx.zimbra_for_params(params)), method)(params)
        return "success"

    handler.__name__ = method
    handler.__doc__ = f"{method}: see :class:`~puq_bridge.provisioning.Provisioner`."
    return handler


def admin_custom_buttons(params: Mapping[str, Any], ctx: AdapterContext) -> dict:
    """AdminCustomButtonArray: label → function."""
    return {"Sync usage now": "SyncUsage"}


FUNCTIONS: dict[str, Handler] = {
    "MetaData": meta_data,
    "ConfigOptions": config_options_fn,
    "TestConnection": check_connection,
    "CreateAccount": _life_cycle("create"),
    "SuspendAccount": _life_cycle("suspend"),
    "UnsuspendAccount": _life_cycle("unsuspend"),
    "TerminateAccount": _life_cycle("terminate"),
    "ChangePassword": _life_cycle("change_password"),
    "ChangePackage": _life_cycle("change_package"),
    "ClientArea": views.client_area,
    "UsageUpdate": views.usage_update,
    "AdminServicesTabFields": views.admin_services_tab_fields,
    "AdminCustomButtonArray": admin_custom_buttons,
    "SyncUsage": views.sync_usage,
}


def dispatch(function: str, params: Mapping[str, Any], ctx: AdapterContext) -> Any:
    """Run one WHMCS module function; returns ``"success"``, a readable error string, or the function's array.

    Never raises and never returns a secret (passwords of the params and of the config are masked).
    """
    handler = FUNCTIONS.get(function)
    if handler is None:
        return f"unknown module function {str(function)[:60]!r}"
    if not isinstance(params, Mapping):
        log.warning("%s: params must be an object", function)
        return _failure(function, "params must be an object", {}, ctx)
    started = time.perf_counter()
    try:
        result = handler(params, ctx)
        outcome = "ok" if not isinstance(result, str) or result == "success" else "error"
        if isinstance(result, str):
            result = scrub(result, params, ctx)
        elif (
            function == "AdminServicesTabFields"
        ):  # server messages: mask the raw text, then escape it for HTML
            result = {
                label: html.escape(scrub(value, params, ctx)) for label, value in result.items()
            }
    except PuqBridgeError as err:
        message = scrub(str(err), params, ctx)
        result, outcome = _failure(function, message, params, ctx), "error"
        if function == "ClientArea" or not isinstance(
            err, ParamsError
        ):  # the client never sees the details
            log.warning("%s for service %s: %s", function, params.get("serviceid"), message)
    except Exception as err:  # a bug must not reach WHMCS as a traceback
        log.error(
            "%s for service %s failed unexpectedly: %s",
            function,
            params.get("serviceid"),
            type(err).__name__,
        )
        log.debug("%s traceback", function, exc_info=True)
        result, outcome = (
            _failure(
                function,
                f"internal error in {function} ({type(err).__name__}); see the puq-bridge log",
                params,
                ctx,
            ),
            "error",
        )
    log.info(
        "%s service=%s %s in %.1f ms",
        function,
        params.get("serviceid"),
        outcome,
        (time.perf_counter() - started) * 1000,
    )
    return result


def _failure(function: str, message: str, params: Mapping[str, Any], ctx: AdapterContext) -> Any:
    """A failed call in the shape its WHMCS function returns (ClientArea: a generic notice, never ``message``)."""
    if function == "TestConnection":
        return {"success": False, "error": message}
    if function == "ClientArea":
        return views.client_area_result(client_notice(params, ctx))
    if function == "AdminServicesTabFields":
        return {"puq-bridge": html.escape(message)}
    return message


def client_notice(params: Mapping[str, Any], ctx: AdapterContext) -> str:
    """The markup of the short notice a client sees instead of a page that failed, in the client's language.

    It says nothing about the cause: server names, Zimbra URLs and store paths are for the log, not the client.
    The text is the catalogs' ``notice.unavailable``; the forwarder's English fallback when a catalog (an operator's
    older override) lacks it or cannot be read.
    """
    from whmcs_module.forwarder import CLIENT_NOTICE  # (forwarder imports this module)

    text = CLIENT_NOTICE
    details = params.get("clientsdetails")
    try:
        renderer = ctx.renderer
        catalog = renderer.catalog(
            renderer.language_for(details.get("language") if isinstance(details, Mapping) else None)
        )
        if catalog.has(CLIENT_NOTICE_KEY):
            text = catalog.text(CLIENT_NOTICE_KEY)
    except Exception as err:  # a broken catalog must not turn a notice into a traceback
        log.warning(
            "ClientArea notice: translations unavailable (%s); showing the English notice", err
        )
    return f'<div class="alert alert-warning" role="alert" data-puq="notice-unavailable">{html.escape(text)}</div>'


def scrub(text: str, params: Mapping[str, Any], ctx: AdapterContext | None = None) -> str:
    """``text`` with the params' and the config's secret values masked (:func:`puq_bridge.logs.mask_secrets`)."""
    secrets = [str(params.get(key) or "") for key in SECRET_PARAMS]
    if ctx is not None:
        secrets += ctx.secrets()
    return mask_secrets(text, secrets)
