"""puq-bridge: a bridge between WHMCS and Zimbra mail servers.

Provisioning of mail domains and mailboxes, client-area tabs, and mailbox usage synced into WHMCS.
Heavy modules (zeep, the simulators) are imported lazily: ``from puq_bridge import ZimbraAdmin``
loads zeep then.
"""

import logging

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "PuqBridgeError",
    "ConfigError",
    "WhmcsError",
    "ZimbraError",
    "ZimbraFault",
    "load_config",
    "WhmcsClient",
    "ZimbraAdmin",
    "UsageStore",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "PuqBridgeError": "puq_bridge.errors",
    "ConfigError": "puq_bridge.errors",
    "WhmcsError": "puq_bridge.errors",
    "ZimbraError": "puq_bridge.errors",
    "ZimbraFault": "puq_bridge.errors",
    "load_config": "puq_bridge.config",
    "WhmcsClient": "puq_bridge.whmcs.client",
    "ZimbraAdmin": "puq_bridge.zimbra.client",
    "UsageStore": "puq_bridge.usage.store",
}


def __getattr__(name):
    """Import the public names on first use, so ``import puq_bridge`` stays cheap."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'puq_bridge' has no attribute {name!r}")
