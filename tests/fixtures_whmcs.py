"""Fixtures for the WHMCS simulator (filled in with the WHMCS client)."""
