"""Stateful simulators of the WHMCS API and the Zimbra admin SOAP endpoint, speaking the real wire
formats.

Used by the tests (through pytest-httpserver or a background server), by ``puq-bridge demo`` and for
operators' dry runs. Nothing here talks to a real server.
"""
