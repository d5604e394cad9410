"""The bridge's own admin page inside WHMCS (the addon module): what it shows, how it is drawn.

:mod:`~puq_bridge.admin.query` reads the page's parameters and actions;
:mod:`~puq_bridge.admin.jobs` runs "Sync now" and "Test now" in the background and keeps the live
checks (Zimbra domain lists, WHMCS servers); :mod:`~puq_bridge.admin.view` builds the page's plain
data from the store and those checks; :mod:`~puq_bridge.admin.render` draws it with the Jinja
templates in ``templates/addon/``. The adapter (:mod:`whmcs_module.addon`) wires them to its
context; nothing here speaks HTTP.
"""
