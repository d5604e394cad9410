"""The admin operations of the fake Zimbra (a mixin of
:class:`~puq_bridge.simulators.zimbra.app.FakeZimbra`).

Every handler takes the request element and returns the reply element (or serialized bytes), or
raises :class:`SimFault` with the code and message the real server uses. Handlers run under the
simulator's lock.
"""

from __future__ import annotations

from puq_bridge.simulators.zimbra.wire import (
    E,
    SimFault,
    a_elements,
    attr_items,
    flag,
    param,
    quota_rows_xml,
    selector,
)

ACCOUNT_STATUSES = ("active", "locked", "lockout", "maintenance", "pending", "closed")
DOMAIN_STATUSES = ("active", "locked", "maintenance", "suspended", "shutdown", "closed")
QUOTA_SORTS = {
    "totalUsed": lambda row: row[2],
    "percentUsed": lambda row: row[2] / row[3] if row[3] else 0.0,
    "quotaLimit": lambda row: row[3],
    "account": lambda row: row[0],
}
NUMERIC_ATTRS = (
    "zimbraMailQuota",
    "zimbraMailDomainQuota",
    "zimbraDomainMaxAccounts",
    "zimbraPasswordMinLength",
)


def _int(value: str | None, name: str) -> int:
    try:
        number = int(value) if value not in (None, "") else 0
    except ValueError:
        raise SimFault(
            "service.INVALID_REQUEST", f"invalid request: {name} must be a number: {value}"
        ) from None
    if number < 0:
        raise SimFault(
            "service.INVALID_REQUEST", f"invalid request: {name} must not be negative: {value}"
        )
    return number


def _ascii_punctuation(ch: str) -> bool:
    """Zimbra's punctuation for the password policy: the printable ASCII that is not a letter,
    a digit or a space."""
    code = ord(ch)
    return 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126


def _wanted(body) -> list[str] | None:
    names = [n.strip() for n in (param(body, "attrs") or "").split(",") if n.strip()]
    return names or None


def _check_attrs(items: list[tuple[str, str]]) -> None:
    for name, value in items:
        if value == "":
            continue
        if name in NUMERIC_ATTRS and not value.strip().isdigit():
            what = (
                "can not modify mail quota (invalid format)"
                if name == "zimbraMailQuota"
                else f"{name} must be a valid long: {value}"
            )
            raise SimFault("account.INVALID_ATTR_VALUE", f"invalid attr value: {what}")
        allowed = {
            "zimbraAccountStatus": ACCOUNT_STATUSES,
            "zimbraDomainStatus": DOMAIN_STATUSES,
        }.get(name)
        if allowed and value not in allowed:
            raise SimFault(
                "account.INVALID_ATTR_VALUE",
                f"invalid attr value: {name} must be one of: {','.join(allowed)}",
            )


def _apply(attrs: dict, items: list[tuple[str, str]]) -> None:
    """Set attributes; a repeated name becomes multi-valued, an empty value removes the
    attribute."""
    fresh: dict[str, list[str]] = {}
    for name, value in items:
        fresh.setdefault(name, []).append(value)
    for name, values in fresh.items():
        values = [v for v in values if v != ""]
        if not values:
            attrs.pop(name, None)
        else:
            attrs[name] = values if len(values) > 1 else values[0]


class Operations:
    """GetQuotaUsage, accounts, domains, COS, mailboxes and version info over the simulator's
    state."""

    # --- lookups ----------------------------------------------------------------------------------

    def _account(self, by: str, value: str) -> tuple[str, dict]:
        if by == "name" and value in self.accounts:
            return value, self.accounts[value]
        alias = self.aliases.get(value) if by == "name" else None
        if alias is not None and alias["type"] == "account":  # Zimbra finds an account by alias too
            return alias["target"], self.accounts[alias["target"]]
        if by == "id":
            for name, account in self.accounts.items():
                if account["id"] == value:
                    return name, account
        raise SimFault("account.NO_SUCH_ACCOUNT", f"no such account: {value}")

    def _account_sel(self, body) -> tuple[str, dict]:
        by, value = selector(body, "account") or ("id", param(body, "id") or "")
        return self._account(by, value)

    def _domain(self, by: str, value: str) -> tuple[str, dict]:
        if by == "name" and value in self.domains:
            return value, self.domains[value]
        if by == "id":
            for name, domain in self.domains.items():
                if domain["id"] == value:
                    return name, domain
        raise SimFault("account.NO_SUCH_DOMAIN", f"no such domain: {value}")

    def _cos(self, by: str, value: str) -> tuple[str, dict]:
        for name, cos in self.coses.items():
            if (by == "name" and name == value) or (by == "id" and cos["id"] == value):
                return name, cos
        raise SimFault("account.NO_SUCH_COS", f"no such cos: {value}")

    def _cos_of(self, name: str, account: dict) -> tuple[str, dict]:
        cos_id = account["attrs"].get("zimbraCOSId") or self.domains[name.rpartition("@")[2]][
            "attrs"
        ].get("zimbraDomainDefaultCOSId")
        if cos_id:
            for cos_name, cos in self.coses.items():
                if cos["id"] == cos_id:
                    return cos_name, cos
        return "default", self.coses["default"]

    def effective_quota(self, name: str, account: dict) -> int:
        """The quota GetQuotaUsage reports: account's, else its COS's, capped by the domain's; 0 =
        unlimited."""
        quota = account["attrs"].get("zimbraMailQuota")
        if quota is None:
            quota = self._cos_of(name, account)[1]["attrs"].get("zimbraMailQuota", "0")
        quota = int(quota)
        domain_quota = int(
            self.domains[name.rpartition("@")[2]]["attrs"].get("zimbraMailDomainQuota", 0)
        )
        if quota and domain_quota:
            return min(quota, domain_quota)
        return quota or domain_quota

    def _account_element(
        self, name: str, account: dict, attrs: dict | None = None, wanted=None, **extra
    ):
        return E(
            "account",
            {"name": name, "id": account["id"], **extra},
            *a_elements(account["attrs"] if attrs is None else attrs, wanted),
        )

    @staticmethod
    def _named(tag: str, name: str, entry: dict, wanted=None):
        return E(tag, {"name": name, "id": entry["id"]}, *a_elements(entry["attrs"], wanted))

    def _check_password(self, name: str, account: dict, password: str) -> None:
        """Zimbra's strength check (LdapProvisioning): the account's value of each policy
        attribute, else its COS's; the first rule broken is the fault's message."""
        cos = self._cos_of(name, account)[1]["attrs"]

        def rule(attr: str, default: int = 0) -> int:
            return int(account["attrs"].get(attr, cos.get(attr, default)) or 0)

        minimum, maximum = rule("zimbraPasswordMinLength", 6), rule("zimbraPasswordMaxLength")
        if minimum and len(password) < minimum:
            raise SimFault("account.INVALID_PASSWORD", "invalid password: too short")
        if maximum and len(password) > maximum:
            raise SimFault("account.INVALID_PASSWORD", "invalid password: too long")
        upper = sum(c.isupper() for c in password)
        lower = sum(c.islower() for c in password)
        digits = sum(c.isdigit() for c in password)
        punct = sum(_ascii_punctuation(c) for c in password)
        for attr, count, what in (
            ("zimbraPasswordMinUpperCaseChars", upper, "upper case characters"),
            ("zimbraPasswordMinLowerCaseChars", lower, "lower case characters"),
            ("zimbraPasswordMinNumericChars", digits, "numeric characters"),
            ("zimbraPasswordMinPunctuationChars", punct, "punctuation characters"),
            ("zimbraPasswordMinDigitsOrPuncs", digits + punct, "numeric or punctuation characters"),
        ):
            if count < rule(attr):
                raise SimFault("account.INVALID_PASSWORD", f"invalid password: not enough {what}")

    # --- operations -------------------------------------------------------------------------------

    def op_auth(self, body):
        """AuthRequest (name/password as attributes or ``<account>``/``<password>``): a token and
        its lifetime in ms."""
        by_account = selector(body, "account")
        name = by_account[1] if by_account else param(body, "name")
        if not name:
            raise SimFault(
                "service.INVALID_REQUEST", "invalid request: must specify 'name' or 'account'"
            )
        self._check_admin(name, param(body, "password") or "")
        if self.admin_two_factor and not param(body, "twoFactorCode"):
            return self._second_factor_reply()
        token = E("authToken", text=self._issue_token())
        lifetime = E("lifetime", text=str(self.token_lifetime_ms))
        children = [lifetime, token] if self.auth_order == "lifetime-first" else [token, lifetime]
        if self.auth_extra:
            children.append(E("a", {"n": "zimbraIsDomainAdminAccount"}, text="false"))
        return E("AuthResponse", None, *children)

    def _second_factor_reply(self):
        """Zimbra's admin Auth for an account with two-factor authentication and no code: the
        lifetime, ``twoFactorAuthRequired``, the methods, then a token good only for sending the
        code."""
        if self.admin_two_factor == "not-set-up":
            raise SimFault(
                "account.TWO_FACTOR_SETUP_REQUIRED", "two-factor authentication setup required"
            )
        token = self._issue_token()
        self._second_factor_tokens.add(token)
        return E(
            "AuthResponse",
            None,
            E("lifetime", text=str(self.token_lifetime_ms)),
            E("twoFactorAuthRequired", text="true"),
            E("zimbraTwoFactorAuthMethodAllowed", None, E("method", text="app")),
            E("zimbraTwoFactorAuthMethodEnabled", None, E("method", text="app")),
            E("zimbraPrefPrimaryTwoFactorAuthMethod", text="app"),
            E("authToken", text=token),
        )

    def op_version(self, body):
        """GetVersionInfoRequest: ``<info version release host majorversion… platform>``."""
        major, minor, micro = (self.version.split("_")[0].split(".") + ["0", "0", "0"])[:3]
        return E(
            "GetVersionInfoResponse",
            None,
            E(
                "info",
                {
                    "type": "NETWORK",
                    "version": f"{self.version}_4653",
                    "release": "20240915040026",
                    "buildDate": "20240915-0433",
                    "host": self.host,
                    "majorversion": major,
                    "minorversion": minor,
                    "microversion": micro,
                    "platform": "RHEL8_64",
                },
            ),
        )

    def op_get_account(self, body):
        """GetAccountRequest: the account's attributes, with ``applyCos`` (default) its COS's and
        effective quota."""
        name, account = self._account_sel(body)
        attrs = dict(account["attrs"])
        if flag(param(body, "applyCos"), True):
            cos = self._cos_of(name, account)[1]["attrs"]
            attrs = {**{k: v for k, v in cos.items() if k not in ("cn", "zimbraId")}, **attrs}
            attrs["zimbraMailQuota"] = str(self.effective_quota(name, account))
        aliases = sorted(a for a, e in self.aliases.items() if e["target"] == name)
        if aliases:  # Zimbra keeps an account's aliases on it (zimbraMailAlias)
            attrs["zimbraMailAlias"] = aliases
        return E(
            "GetAccountResponse", None, self._account_element(name, account, attrs, _wanted(body))
        )

    def op_account_info(self, body):
        """GetAccountInfoRequest: name, zimbraId, mail host, COS and the server's URLs."""
        name, account = self._account_sel(body)
        cos_name, cos = self._cos_of(name, account)
        return E(
            "GetAccountInfoResponse",
            None,
            E("name", text=name),
            E("a", {"n": "zimbraId"}, text=account["id"]),
            E("a", {"n": "zimbraMailHost"}, text=self.host),
            E("cos", {"name": cos_name, "id": cos["id"]}),
            E("soapURL", text=f"https://{self.host}:8443/service/soap/"),
            E("adminSoapURL", text=f"https://{self.host}:7071/service/admin/soap/"),
            E("publicMailURL", text=f"https://{self.host}"),
        )

    def op_create_account(self, body):
        """CreateAccountRequest: checks domain, duplicates, zimbraDomainMaxAccounts, password
        length."""
        name = (param(body, "name") or "").strip().lower()
        domain = name.rpartition("@")[2]
        if "@" not in name or domain not in self.domains:
            raise SimFault("account.NO_SUCH_DOMAIN", f"no such domain: {domain or name}")
        if self._entry_kind(name):
            uid, dn = name.partition("@")[0], ",".join(f"dc={p}" for p in domain.split("."))
            raise SimFault(
                "account.ACCOUNT_EXISTS",
                f"email address already exists: {name}, at DN: uid={uid},ou=people,{dn}",
            )
        limit = int(self.domains[domain]["attrs"].get("zimbraDomainMaxAccounts", 0))
        # Zimbra counts the domain's non-system accounts (Validators' DomainAccountValidator:
        # countObjects internalUserAccount, allNonSystemInternalAccounts)
        users = [
            n
            for n, a in self.accounts.items()
            if n.rpartition("@")[2] == domain
            and "TRUE"
            not in (
                a["attrs"].get("zimbraIsSystemAccount"),
                a["attrs"].get("zimbraIsSystemResource"),
            )
        ]
        if limit and len(users) >= limit:
            raise SimFault(
                "account.TOO_MANY_ACCOUNTS",
                f"number of accounts reached the limit: domain={domain} ({limit})",
                sender=False,  # Zimbra's RECEIVERS_FAULT: soap:Server / soap:Receiver
            )
        items = attr_items(body)
        _check_attrs(items)
        for cos_id in (v for n, v in items if n == "zimbraCOSId"):
            self._cos("id", cos_id)
        password = param(body, "password") or ""
        self.add_account(name, password=password)
        account = self.accounts[name]
        _apply(account["attrs"], items)
        try:
            self._check_password(name, account, password)
        except SimFault:
            del self.accounts[name], self._passwords[name]
            raise
        return E("CreateAccountResponse", None, self._account_element(name, account))

    def op_modify_account(self, body):
        """ModifyAccountRequest: set attributes (an empty value removes one)."""
        name, account = self._account("id", param(body, "id") or "")
        items = attr_items(body)
        _check_attrs(items)
        _apply(account["attrs"], items)
        return E("ModifyAccountResponse", None, self._account_element(name, account))

    def op_set_password(self, body):
        """SetPasswordRequest: checks the COS's minimum length; optional policy ``<message>``."""
        name, account = self._account("id", param(body, "id") or "")
        password = param(body, "newPassword") or ""
        self._check_password(name, account, password)
        self._passwords[name] = password
        message = [E("message", text=self.password_message)] if self.password_message else []
        return E("SetPasswordResponse", None, *message)

    def op_delete_account(self, body):
        """DeleteAccountRequest by id."""
        name, _ = self._account("id", param(body, "id") or "")
        del self.accounts[name]
        self._passwords.pop(name, None)
        self._forget_target(name)
        return E("DeleteAccountResponse")

    def op_add_account_alias(self, body):
        """AddAccountAliasRequest: the alias's domain must exist and the address be free (an
        account, list, resource or alias holding it is ``ACCOUNT_EXISTS``, as LDAP reports it)."""
        name, account = self._account("id", param(body, "id") or "")
        alias = (param(body, "alias") or "").strip().lower()
        local, _, domain = alias.rpartition("@")
        if not local or not domain:
            raise SimFault("service.INVALID_REQUEST", "invalid request: invalid email address")
        if domain not in self.domains:
            raise SimFault("account.NO_SUCH_DOMAIN", f"no such domain: {domain}")
        if self._entry_kind(alias):
            dn = ",".join(f"dc={p}" for p in domain.split("."))
            raise SimFault(
                "account.ACCOUNT_EXISTS",
                f"email address already exists: {alias}, at DN: uid={local},ou=people,{dn}",
            )
        self.aliases[alias] = {"id": self._new_id(), "target": name, "type": "account"}
        return E("AddAccountAliasResponse")

    def op_remove_account_alias(self, body):
        """RemoveAccountAliasRequest: ``NO_SUCH_ALIAS`` unless the alias is the account's."""
        name, _ = self._account("id", param(body, "id") or "")
        alias = (param(body, "alias") or "").strip().lower()
        entry = self.aliases.get(alias)
        if entry is None or entry["target"] != name:
            raise SimFault("account.NO_SUCH_ALIAS", f"no such alias: {alias}")
        del self.aliases[alias]
        return E("RemoveAccountAliasResponse")

    def _domain_accounts(self, domain: str) -> list[str]:
        suffix = "@" + domain
        return sorted(n for n in self.accounts if n.endswith(suffix))

    def op_all_accounts(self, body):
        """GetAllAccountsRequest of one domain, sorted by name."""
        domain, _ = self._domain(*(selector(body, "domain") or ("name", "")))
        return E(
            "GetAllAccountsResponse",
            None,
            *[self._account_element(n, self.accounts[n]) for n in self._domain_accounts(domain)],
        )

    def op_search(self, body):
        """SearchDirectoryRequest: domain, types (comma list), query (an LDAP filter), maxResults
        (default ``search_max_results``, 0 = no cap), limit (0 = all), offset, attrs."""
        domain = param(body, "domain")
        if domain:
            self._domain("name", domain)
        entries = self.search_matches(domain, param(body, "types"), param(body, "query"))
        max_results = param(body, "maxResults")
        self.check_search_cap(
            len(entries),
            self.search_max_results if max_results is None else _int(max_results, "maxResults"),
        )
        if not flag(param(body, "sortAscending"), True):
            entries.reverse()
        limit, offset = _int(param(body, "limit"), "limit"), _int(param(body, "offset"), "offset")
        page = entries[offset : offset + limit] if limit else entries[offset:]
        wanted = _wanted(body)
        return E(
            "SearchDirectoryResponse",
            {"more": int(offset + len(page) < len(entries)), "searchTotal": len(entries)},
            *[self._entry_element(name, kind, wanted) for name, kind in page],
        )

    def op_count(self, body):
        """CountAccountRequest: the domain's accounts per class of service, without system resources
        (Zimbra's count skips ``zimbraIsSystemResource`` accounts; ``zimbraIsSystemAccount`` alone
        does not)."""
        domain, _ = self._domain(*(selector(body, "domain") or ("name", "")))
        counts: dict[str, list] = {}
        for name in self._domain_accounts(domain):
            if flag(self.accounts[name]["attrs"].get("zimbraIsSystemResource")):
                continue
            cos_name, cos = self._cos_of(name, self.accounts[name])
            counts.setdefault(cos_name, [cos["id"], 0])[1] += 1
        return E(
            "CountAccountResponse",
            None,
            *[
                E("cos", {"id": cid, "name": cname}, text=str(n))
                for cname, (cid, n) in sorted(counts.items())
            ],
        )

    def op_create_domain(self, body):
        """CreateDomainRequest (status ``active`` unless given)."""
        name = (param(body, "name") or "").strip().lower()
        if not name or "." not in name:
            raise SimFault(
                "service.INVALID_REQUEST", f"invalid request: invalid domain name: {name}"
            )
        if name in self.domains:
            raise SimFault("account.DOMAIN_EXISTS", f"domain already exists: {name}")
        items = attr_items(body)
        _check_attrs(items)
        self.add_domain(name)
        _apply(self.domains[name]["attrs"], items)
        return E("CreateDomainResponse", None, self._named("domain", name, self.domains[name]))

    def op_get_domain(self, body):
        """GetDomainRequest by name or id."""
        name, domain = self._domain(*(selector(body, "domain") or ("name", "")))
        return E("GetDomainResponse", None, self._named("domain", name, domain, _wanted(body)))

    def op_all_domains(self, body):
        """GetAllDomainsRequest, sorted by name."""
        return E(
            "GetAllDomainsResponse",
            None,
            *[self._named("domain", n, d) for n, d in sorted(self.domains.items())],
        )

    def op_modify_domain(self, body):
        """ModifyDomainRequest by id (``zimbraDomainStatus`` values are checked)."""
        name, domain = self._domain("id", param(body, "id") or "")
        items = attr_items(body)
        _check_attrs(items)
        _apply(domain["attrs"], items)
        return E("ModifyDomainResponse", None, self._named("domain", name, domain))

    def op_delete_domain(self, body):
        """DeleteDomainRequest by id; DOMAIN_NOT_EMPTY while accounts, resources, lists, dynamic
        groups or aliases remain (the message samples ``ou=people`` only, as Zimbra's does: a
        dynamic group lives in ``ou=groups``)."""
        name, _ = self._domain("id", param(body, "id") or "")
        people = ("account", "calresource", "dl", "alias")
        remaining = [n for n, _ in self._domain_entries(name, people)]
        if remaining or self._domain_entries(name, ("group",)):
            dn = ",".join(f"dc={p}" for p in name.split("."))
            entries = "][".join(f"uid={n.partition('@')[0]},ou=people,{dn}" for n in remaining[:4])
            raise SimFault(
                "account.DOMAIN_NOT_EMPTY",
                f"domain not empty: {name} (remaining entries:[{entries}]...)",
            )
        del self.domains[name]
        return E("DeleteDomainResponse")

    def op_get_cos(self, body):
        """GetCosRequest by name or id."""
        name, cos = self._cos(*(selector(body, "cos") or ("name", "")))
        element = self._named("cos", name, cos, _wanted(body))
        for a in element:
            if a.get("n") in (
                "cn",
                "zimbraId",
                "objectClass",
            ):  # Zimbra flags attributes a COS cannot change
                a.set("c", "1")
        return E("GetCosResponse", None, element)

    def op_quota_usage(self, body):
        """GetQuotaUsageRequest: domain, limit (0 = all), offset, sortBy, sortAscending;
        more/searchTotal."""
        domain = param(body, "domain")
        sort_by = param(body, "sortBy") or "totalUsed"
        if sort_by not in QUOTA_SORTS:
            raise SimFault(
                "service.INVALID_REQUEST",
                "invalid request: sortBy must be percentUsed or totalUsed",
            )
        limit, offset = _int(param(body, "limit"), "limit"), _int(param(body, "offset"), "offset")
        if domain:
            self._domain("name", domain)
        # Zimbra searches the accounts sorted by name, then sorts by sortBy: ties stay in name
        # order.
        names = self._domain_accounts(domain) if domain else sorted(self.accounts)
        ascending = flag(param(body, "sortAscending"))
        if sort_by == "account":  # already in that order: rows are made for the page only
            ordered = names if ascending else names[::-1]
            page = self._quota_rows(ordered[offset : offset + limit] if limit else ordered[offset:])
            return quota_rows_xml(page, offset + len(page) < len(names), len(names))
        rows = self._quota_rows(names)
        rows.sort(key=QUOTA_SORTS[sort_by], reverse=not ascending)
        page = rows[offset : offset + limit] if limit else rows[offset:]
        return quota_rows_xml(page, offset + len(page) < len(rows), len(rows))

    def _quota_rows(self, names: list[str]) -> list[tuple[str, str, int, int]]:
        """``(name, id, used, effective quota)`` of accounts."""
        accounts = self.accounts
        return [
            (n, accounts[n]["id"], accounts[n]["used"], self.effective_quota(n, accounts[n]))
            for n in names
        ]

    def op_mailbox(self, body):
        """GetMailboxRequest ``<mbox id>``: mailbox id and size."""
        mbox = next((c for c in body if c.tag.endswith("mbox")), None)
        _, account = self._account("id", (mbox.get("id") if mbox is not None else None) or "")
        return E(
            "GetMailboxResponse", None, E("mbox", {"mbxid": account["mbxid"], "s": account["used"]})
        )

    def op_mailbox_stats(self, body):
        """GetMailboxStatsRequest: number of mailboxes and total bytes."""
        total = sum(a["used"] for a in self.accounts.values())
        return E(
            "GetMailboxStatsResponse",
            None,
            E("stats", {"numMboxes": len(self.accounts), "totalSize": total}),
        )

    OPS = {
        "Auth": op_auth,
        "GetVersionInfo": op_version,
        "GetAccount": op_get_account,
        "GetAccountInfo": op_account_info,
        "CreateAccount": op_create_account,
        "ModifyAccount": op_modify_account,
        "SetPassword": op_set_password,
        "DeleteAccount": op_delete_account,
        "AddAccountAlias": op_add_account_alias,
        "RemoveAccountAlias": op_remove_account_alias,
        "GetAllAccounts": op_all_accounts,
        "SearchDirectory": op_search,
        "CountAccount": op_count,
        "CreateDomain": op_create_domain,
        "GetDomain": op_get_domain,
        "GetAllDomains": op_all_domains,
        "ModifyDomain": op_modify_domain,
        "DeleteDomain": op_delete_domain,
        "GetCos": op_get_cos,
        "GetQuotaUsage": op_quota_usage,
        "GetMailbox": op_mailbox,
        "GetMailboxStats": op_mailbox_stats,
    }
