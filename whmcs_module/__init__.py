"""The WHMCS adapter: module function name + params → result, the signed HTTP service, the PHP forwarder.

``dispatch(function, params, ctx)`` answers one WHMCS provisioning-module call; :func:`whmcs_module.http.make_app`
serves the adapter protocol over HTTP; :func:`whmcs_module.forwarder.write_forwarder` writes the PHP files WHMCS
loads. Nothing here imports zeep at import time.
"""

from .adapter import FUNCTIONS, dispatch
from .context import AdapterContext
from .forwarder import write_forwarder
from .http import AdapterServer, make_app
from .signing import sign

__all__ = ["FUNCTIONS", "AdapterContext", "AdapterServer", "dispatch", "make_app", "sign", "write_forwarder"]
