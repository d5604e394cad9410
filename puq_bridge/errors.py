"""The exception hierarchy of puq-bridge.

Every error the library raises derives from :class:`PuqBridgeError`, so the CLI and the adapter can
turn any of them into one readable line. Messages never contain secrets (passwords, API secrets,
auth tokens).
"""

from __future__ import annotations


class PuqBridgeError(Exception):
    """Root of every puq-bridge error; ``str(err)`` is a one-line, secret-free message."""


class ConfigError(PuqBridgeError):
    """The configuration file is missing, unreadable or invalid.

    Args:
        file: path of the config file (or ``None`` when no file was found).
        key: dotted key that failed (``"whmcs.secret_env"``), or ``None`` for the file as a whole.
        message: what is wrong.
    """

    def __init__(self, file: str | None, key: str | None, message: str):
        self.file, self.key, self.message = file, key, message
        where = file or "config"
        if key:
            where = f"{where}: {key}"
        super().__init__(f"{where}: {message}")


# --- WHMCS ----------------------------------------------------------------------------------------


class WhmcsError(PuqBridgeError):
    """A WHMCS API call failed.

    Args:
        action: the API action (``"GetClientsProducts"``).
        message: WHMCS's own message, or what went wrong on the way.
        status_code: the HTTP status, when there was a reply.
    """

    def __init__(self, action: str, message: str, status_code: int | None = None):
        self.action, self.message, self.status_code = action, message, status_code
        code = f" (HTTP {status_code})" if status_code and status_code != 200 else ""
        super().__init__(f"WHMCS {action}: {message}{code}")


class WhmcsApiError(WhmcsError):
    """WHMCS answered ``result=error`` for the action (``"Client Not Found"``); a business error,
    not retried."""


class WhmcsAuthError(WhmcsError):
    """Authentication, IP allow-list, access-key or API-role failure (WHMCS answers HTTP 403)."""


class WhmcsTransportError(WhmcsError):
    """The request did not get a usable reply: refused, timed out, or HTTP 5xx. Safe to retry for
    reads."""


class WhmcsProtocolError(WhmcsError):
    """WHMCS answered something that is not the JSON API reply (an HTML page, a truncated body)."""


# --- Zimbra ---------------------------------------------------------------------------------------


class ZimbraError(PuqBridgeError):
    """A Zimbra admin SOAP call failed.

    Args:
        server: name of the Zimbra server (config ``name``, or its URL host).
        operation: the SOAP operation (``"GetQuotaUsage"``).
        message: what went wrong.
    """

    def __init__(self, server: str, operation: str, message: str):
        self.server, self.operation, self.message = server, operation, message
        super().__init__(f"Zimbra {server} {operation}: {message}")


class ZimbraTransportError(ZimbraError):
    """No usable reply: connection refused, TLS failure, timeout. Safe to retry."""


class ZimbraThrottled(ZimbraTransportError):
    """HTTP 503 or 429: the server (Zimbra's DoS filter, or a proxy in front of it) refused the
    request for now. Nothing was done, but only reads are sent again (after ``retry_after``
    seconds when the reply said, else after a back-off); a write is never repeated.

    Args:
        server, operation, message: as :class:`ZimbraError`.
        status: 503 or 429.
        retry_after: seconds the reply's ``Retry-After`` asked for (``None``: not given).
    """

    def __init__(
        self,
        server: str,
        operation: str,
        message: str,
        *,
        status: int,
        retry_after: float | None = None,
    ):
        self.status, self.retry_after = status, retry_after
        super().__init__(server, operation, message)


class ZimbraProtocolError(ZimbraError):
    """The reply is not a SOAP envelope (a proxy's HTML 502 page, a non-XML body)."""


class TwoFactorRequired(ZimbraError):
    """The admin account the bridge logs in with has two-factor authentication (or Zimbra wants it
    set up): Zimbra asks for a second factor the bridge cannot give. Never retried; the fix is an
    admin account without two-factor authentication for the bridge."""


class ZimbraFault(ZimbraError):
    """Zimbra answered a SOAP fault.

    Args:
        code: the Zimbra fault code (``"account.NO_SUCH_ACCOUNT"``).
        message: the fault's reason text.
    """

    code: str = ""

    def __init__(self, server: str, operation: str, code: str, message: str):
        self.code = code
        self.fault_message = message
        super().__init__(server, operation, f"{code}: {message}")


class NoSuchAccount(ZimbraFault):
    """``account.NO_SUCH_ACCOUNT``."""


class AccountExists(ZimbraFault):
    """``account.ACCOUNT_EXISTS``."""


class NoSuchDomain(ZimbraFault):
    """``account.NO_SUCH_DOMAIN``."""


class DomainExists(ZimbraFault):
    """``account.DOMAIN_EXISTS``."""


class DomainNotEmpty(ZimbraFault):
    """``account.DOMAIN_NOT_EMPTY``."""


class NoSuchCos(ZimbraFault):
    """``account.NO_SUCH_COS``."""


class TooManyAccounts(ZimbraFault):
    """``account.TOO_MANY_ACCOUNTS``: the domain's ``zimbraDomainMaxAccounts`` is reached."""


class InvalidPassword(ZimbraFault):
    """``account.INVALID_PASSWORD``: the password breaks the server's policy."""


class AuthFailed(ZimbraFault):
    """``account.AUTH_FAILED``: wrong admin name or password. Never retried."""


class PermissionDenied(ZimbraFault):
    """``service.PERM_DENIED``: not an admin, or not allowed. Never retried."""


class AuthExpired(ZimbraFault):
    """``service.AUTH_EXPIRED``: the token expired; a new AuthRequest helps."""


class AuthRequired(ZimbraFault):
    """``service.AUTH_REQUIRED``: no valid token was sent; a new AuthRequest helps."""


class InvalidRequest(ZimbraFault):
    """``service.INVALID_REQUEST``."""


class NoSuchGrant(ZimbraFault):
    """``account.NO_SUCH_GRANT``: RevokeRight of a grant that does not exist."""


class NoSuchAlias(ZimbraFault):
    """``account.NO_SUCH_ALIAS``: RemoveAccountAlias of an alias the account does not have."""


FAULT_CLASSES: dict[str, type[ZimbraFault]] = {
    "account.NO_SUCH_ACCOUNT": NoSuchAccount,
    "account.ACCOUNT_EXISTS": AccountExists,
    "account.NO_SUCH_DOMAIN": NoSuchDomain,
    "account.DOMAIN_EXISTS": DomainExists,
    "account.DOMAIN_NOT_EMPTY": DomainNotEmpty,
    "account.NO_SUCH_COS": NoSuchCos,
    "account.TOO_MANY_ACCOUNTS": TooManyAccounts,
    "account.INVALID_PASSWORD": InvalidPassword,
    "account.AUTH_FAILED": AuthFailed,
    "service.PERM_DENIED": PermissionDenied,
    "service.AUTH_EXPIRED": AuthExpired,
    "service.AUTH_REQUIRED": AuthRequired,
    "service.INVALID_REQUEST": InvalidRequest,
    "account.NO_SUCH_GRANT": NoSuchGrant,
    "account.NO_SUCH_ALIAS": NoSuchAlias,
}


def zimbra_fault(server: str, operation: str, code: str, message: str) -> ZimbraFault:
    """Build the :class:`ZimbraFault` subclass that matches ``code`` (the base class for other
    codes)."""
    return FAULT_CLASSES.get(code, ZimbraFault)(server, operation, code, message)


# --- the rest -------------------------------------------------------------------------------------


class ParamsError(PuqBridgeError):
    """WHMCS module params are missing or invalid (no domain, a quota that is not a number)."""


class SyncLockedError(PuqBridgeError):
    """Another ``sync-usage`` run holds the lock."""


class StoreError(PuqBridgeError):
    """The usage store cannot be opened, migrated or written."""


class SignOnError(PuqBridgeError):
    """A sign-on (webmail, admin console) was refused or cannot be made; nothing was signed.

    Args:
        reason: what the client is told, as a key: ``inactive`` (service or domain not active),
            ``foreign_mailbox`` (not a mailbox of the service), ``disabled`` (turned off by the
            product), ``not_offered`` (no admin panel sign-on for this product), ``no_key`` (the
            domain has no preauth key and none can be made), ``unavailable`` (Zimbra failed).
        message: the precise line for the log (no secrets).
    """

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


class SelfServiceError(PuqBridgeError):
    """A client's mailbox action (CreateMailbox, DeleteMailbox, …) was refused or failed; nothing
    was changed on Zimbra.

    Args:
        reason: what the client is told, as a key of the catalog's ``selfservice.error.*``
            (``exists``, ``max_mailboxes``, ``no_space``, ``password_policy``, ``foreign``, …).
        message: the precise line for the log and the audit (never a password).
        field: the form field the refusal is about (``local_part``, ``password``, …), or "".
        values: what the client's message may quote (a number, a limit), never a secret.
    """

    def __init__(self, reason: str, message: str, *, field: str = "", **values):
        self.reason, self.field, self.values = reason, field, values
        super().__init__(message)


class DelegationError(PuqBridgeError):
    """Making a mailbox the delegated admin of its domain failed; what was done was undone."""
class StoreUnavailable(StoreError):
    """The usage store cannot be reached or opened at all: a PostgreSQL server that does not answer
    or refuses the login, a SQLite file that cannot be created or is not a database. Nothing was
    read or written; the CLI exits 2."""
