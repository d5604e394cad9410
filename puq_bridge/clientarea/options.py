"""What the service page offers beside its figures: sign-on buttons, the plan's mailbox limit.

Plain data for the templates (:class:`PageOptions`). The buttons talk to WHMCS, not to the bridge:
webmail is WHMCS's own single sign-on link
(``clientarea.php?action=productdetails&id=ID&dosinglesignon=1``, which calls the module's
ServiceSingleSignOn); the admin panel and the per-mailbox buttons post
forms to the module's client-area functions (``modop=custom&a=AdminPanelSignOn|MailboxSignOn``,
declared in ClientAreaAllowedFunctions). A POST form needs WHMCS's CSRF token, which the bridge
never sees: the forms carry :data:`CSRF_PLACEHOLDER`, which the forwarder's template replaces.
"""

from __future__ import annotations

from dataclasses import dataclass

#: replaced by WHMCS's ``{$token}`` in the forwarder's ``clientarea.tpl``.
CSRF_PLACEHOLDER = "__PUQ_CSRF_TOKEN__"
#: WHMCS's client area, relative to the page the tabs are on.
CLIENT_AREA = "clientarea.php"


@dataclass(frozen=True)
class PageOptions:
    """The buttons a service page shows and the plan's maximum mailboxes (0: no limit).

    ``token`` is the value of the forms' ``token`` field (the placeholder in WHMCS; the demo's
    page server needs none).
    """

    webmail_signon: bool = False
    admin_signon: bool = False
    mailbox_signon: bool = False
    max_mailboxes: int = 0
    token: str = CSRF_PLACEHOLDER
    #: the mailbox self-service forms (new mailbox, per-row actions); the quota they suggest (MB)
    self_service: bool = False
    default_quota_mb: int = 0

    @classmethod
    def for_service(
        cls,
        *,
        status: str,
        tenancy: str,
        mailbox_signon: bool,
        max_mailboxes: int,
        token: str = CSRF_PLACEHOLDER,
        self_service: bool = True,
        default_quota_mb: int = 0,
    ) -> "PageOptions":
        """The options of a service: sign-on buttons and the mailbox forms only while it is
        active, the admin panel's only for tenancy ``domain`` (a private server's own admin signs
        in as ever)."""
        active = (status or "").strip().lower() == "active"
        return cls(
            webmail_signon=active,
            admin_signon=active and tenancy == "domain",
            mailbox_signon=active and mailbox_signon,
            max_mailboxes=max(int(max_mailboxes or 0), 0),
            token=token,
            self_service=active and self_service,
            default_quota_mb=max(int(default_quota_mb or 0), 0),
        )

    def webmail_href(self, service_id: int) -> str:
        """WHMCS's single sign-on link of the service."""
        return f"{CLIENT_AREA}?action=productdetails&id={service_id}&dosinglesignon=1"

    def form_action(self, service_id: int) -> str:
        """Where the sign-on forms post (WHMCS's product details page of the service)."""
        return f"{CLIENT_AREA}?action=productdetails&id={service_id}"
