"""The WHMCS adapter: module function name + params → result, the signed HTTP service, the PHP
forwarder.

:func:`whmcs_module.adapter.dispatch` answers one WHMCS provisioning-module call;
:func:`whmcs_module.http.make_app` serves the adapter protocol over HTTP;
:func:`whmcs_module.forwarder.write_forwarder` writes the PHP files WHMCS loads. Importing the
package imports none of them (nor zeep).
"""
