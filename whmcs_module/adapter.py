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
from puq_bridge.provisioning import (ProductSettings, Provisioner, ServiceTarget, config_options,
                                     required_password)

from . import views
from .context import AdapterContext

log = logging.getLogger(__name__)

MASK = "********"
#: params whose values are secrets (scrubbed from every message).
SECRET_PARAMS = ("password", "serverpassword", "serveraccesshash")

Handler = Callable[[Mapping[str, Any], AdapterContext], Any]


def meta_data(params: Mapping[str, Any], ctx: AdapterContext) -> dict:
    """MetaData: how WHMCS lists the module."""
    return {"DisplayName": "Zimbra mail (puq-bridge)", "APIVersion": "1.1", "RequiresServer": True,
            "DefaultNonSSLPort": "7071", "DefaultSSLPort": "7071"}


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
        ServiceTarget.from_params(params)
        ProductSettings.from_params(params)
        if method in ("create", "change_password"):
            required_password(params)
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
        return _failure(function, "params must be an object")
    started = time.perf_counter()
    try:
        result = handler(params, ctx)
        outcome = "ok" if not isinstance(result, str) or result == "success" else "error"
        if isinstance(result, str):
            result = scrub(result, params, ctx)
        elif function == "AdminServicesTabFields":  # its values carry server messages
            result = {label: scrub(value, params, ctx) for label, value in result.items()}
    except PuqBridgeError as err:
        result, outcome = _failure(function, scrub(str(err), params, ctx)), "error"
        if not isinstance(err, ParamsError):
            log.warning("%s for service %s: %s", function, params.get("serviceid"), scrub(str(err), params, ctx))
    except Exception as err:  # a bug must not reach WHMCS as a traceback
        log.error("%s for service %s failed unexpectedly: %s", function, params.get("serviceid"),
                  type(err).__name__)
        log.debug("%s traceback", function, exc_info=True)
        result, outcome = _failure(function, f"internal error in {function} ({type(err).__name__}); "
                                             "see the puq-bridge log"), "error"
    log.info("%s service=%s %s in %.1f ms", function, params.get("serviceid"), outcome,
             (time.perf_counter() - started) * 1000)
    return result


def _failure(function: str, message: str) -> Any:
    """A failed call in the shape its WHMCS function returns."""
    if function == "TestConnection":
        return {"success": False, "error": message}
    if function == "ClientArea":
        return views.client_area_result(f'<div class="alert alert-warning">{html.escape(message)}</div>')
    if function == "AdminServicesTabFields":
        return {"puq-bridge": html.escape(message)}
    return message


def scrub(text: str, params: Mapping[str, Any], ctx: AdapterContext | None = None) -> str:
    """``text`` with the params' and the config's secret values masked."""
    secrets = [str(params.get(key) or "") for key in SECRET_PARAMS]
    if ctx is not None:
        secrets += ctx.secrets()
    for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
