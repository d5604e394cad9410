"""The WHMCS adapter: module function name + params → result, the signed HTTP service, the PHP forwarder.

``dispatch(function, params, ctx)`` answers one WHMCS provisioning-module call; :func:`whmcs_module.http.make_app`
serves the adapter protocol over HTTP; :func:`whmcs_module.forwarder.write_forwarder` writes the PHP files WHMCS
loads. Nothing here imports zeep at import time.
"""

from whmcs_module.adapter import FUNCTIONS, dispatch
from whmcs_module.context import AdapterContext
from whmcs_module.forwarder import write_forwarder
from whmcs_module.http import AdapterServer, make_app
from whmcs_module.signing import sign

__all__ = [
    "FUNCTIONS",
    "AdapterContext",
    "AdapterServer",
    "dispatch",
    "make_app",
    "sign",
    "write_forwarder",
]
