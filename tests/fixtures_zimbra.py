"""Fixtures for the Zimbra simulator (filled in with the Zimbra client)."""
