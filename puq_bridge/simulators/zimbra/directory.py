"""Distribution lists, calendar resources and aliases of the fake Zimbra (a mixin of
:class:`~puq_bridge.simulators.zimbra.app.FakeZimbra`), and the directory search over every kind of
entry.

Like the real server, SearchDirectory returns each kind as its own element (``<account>``,
``<calresource>``, ``<dl>``, ``<alias>``; a dynamic group is a ``<dl dynamic="1">``) sorted by name
across kinds, ``types="accounts"`` leaves calendar resources and lists out, ``distributionlists``
leaves dynamic groups out (they are ``dynamicgroups``), the ``query`` is an LDAP filter ANDed with
the types (:mod:`.ldap_filter`), and more matches than ``maxResults`` (default
:attr:`FakeZimbra.search_max_results`, 5000 like ``zimbra_directory_max_search_result``; 0 = no cap)
is ``account.TOO_MANY_SEARCH_RESULTS`` however the reply is paged. DeleteDomain refuses while any
entry of the domain remains, dynamic groups included. Deleting an account or a list takes its
aliases with it and drops the account from every list; DeleteDistributionList deletes a dynamic
group too (Zimbra's handler looks the id up as any group). Not modelled: list owners and rights,
nested-list checks, dynamic groups' member URLs.
"""

from __future__ import annotations

from puq_bridge.simulators.zimbra.ldap_filter import compile_filter
from puq_bridge.simulators.zimbra.wire import E, SimFault, a_elements, attr_items, flag, param

#: SearchDirectory ``types`` the simulator knows → the kind of entry of each (a dynamic group is a
#: ``group``, written as a ``<dl dynamic="1">`` element).
SEARCH_TYPES = {
    "accounts": "account",
    "resources": "calresource",
    "distributionlists": "dl",
    "dynamicgroups": "group",
    "aliases": "alias",
}
RESOURCE_TYPES = ("Location", "Equipment")
#: The object classes an entry of each kind has in Zimbra's LDAP (what a ``query`` on
#: ``objectClass`` sees).
OBJECT_CLASSES = {
    "account": ["inetOrgPerson", "zimbraAccount", "amavisAccount"],
    "calresource": ["inetOrgPerson", "zimbraAccount", "zimbraCalendarResource"],
    "dl": ["zimbraDistributionList", "zimbraMailRecipient"],
    "group": ["groupOfURLs", "dgIdentityAux", "zimbraGroup"],
    "alias": ["zimbraAlias"],
}
TOO_MANY = "number of results exceeded the limit: too many search results returned"


class Directory:
    """State helpers and admin operations for distribution lists, calendar resources and aliases."""

    # --- state helpers ----------------------------------------------------------------------------

    def _check_new_name(self, name: str) -> str:
        """The domain of a new entry's ``name``; ``ValueError`` when the domain is missing or the
        name is taken."""
        domain = name.rpartition("@")[2]
        if "@" not in name or domain not in self.domains:
            raise ValueError(f"no such domain: {domain or name}")
        if self._entry_kind(name):
            raise ValueError(f"name already in use: {name}")
        return domain

    def _entry_kind(self, name: str) -> str | None:
        """Which kind of entry holds ``name`` (``account``, ``calresource``, ``dl``, ``alias``), if
        any."""
        for kind, table in self._tables().items():
            if name in table:
                return kind
        return None

    def _tables(self) -> dict[str, dict]:
        """Entry kind → the table holding the entries of that kind."""
        return {
            "account": self.accounts,
            "calresource": self.resources,
            "dl": self.lists,
            "group": self.groups,
            "alias": self.aliases,
        }

    def add_distribution_list(self, name: str, members=(), attrs: dict | None = None) -> str:
        """Add a distribution list in an existing domain with ``members`` (any addresses); returns
        its id."""
        with self.lock:
            self._check_new_name(name)
            list_id = self._new_id()
            self.lists[name] = {
                "id": list_id,
                "members": list(members),
                "attrs": {
                    "uid": name.partition("@")[0],
                    "mail": name,
                    "zimbraMailStatus": "enabled",
                    "zimbraId": list_id,
                    "objectClass": ["zimbraDistributionList", "zimbraMailRecipient"],
                    **{k: str(v) for k, v in (attrs or {}).items()},
                },
            }
            return list_id

    def add_dynamic_group(
        self, name: str, member_url: str | None = None, attrs: dict | None = None
    ) -> str:
        """Add a dynamic group (members from an LDAP URL, kept in ``ou=groups``) in an existing
        domain; returns its id. SearchDirectory finds it with ``types=dynamicgroups`` only."""
        with self.lock:
            self._check_new_name(name)
            group_id = self._new_id()
            self.groups[name] = {
                "id": group_id,
                "attrs": {
                    "uid": name.partition("@")[0],
                    "mail": name,
                    "zimbraMailStatus": "enabled",
                    "zimbraId": group_id,
                    "zimbraIsACLGroup": "FALSE",
                    "memberURL": member_url
                    or f"ldap:///??sub?(|(zimbraMailForwardingAddress={name}))",
                    "objectClass": list(OBJECT_CLASSES["group"]),
                    **{k: str(v) for k, v in (attrs or {}).items()},
                },
            }
            return group_id

    def add_resource(
        self,
        name: str,
        *,
        display_name: str | None = None,
        resource_type: str = "Location",
        attrs: dict | None = None,
    ) -> str:
        """Add a calendar resource (a room or a piece of equipment) in an existing domain; returns
        its id."""
        if resource_type not in RESOURCE_TYPES:
            raise ValueError(
                f"resource_type must be one of {', '.join(RESOURCE_TYPES)}, not {resource_type!r}"
            )
        with self.lock:
            self._check_new_name(name)
            resource_id = self._new_id()
            self.resources[name] = {
                "id": resource_id,
                "attrs": {
                    "uid": name.partition("@")[0],
                    "mail": name,
                    "zimbraId": resource_id,
                    "displayName": display_name or name.partition("@")[0],
                    "zimbraCalResType": resource_type,
                    "zimbraAccountStatus": "active",
                    "zimbraMailHost": self.host,
                    "objectClass": ["zimbraCalendarResource", "zimbraAccount"],
                    **{k: str(v) for k, v in (attrs or {}).items()},
                },
            }
            return resource_id

    def add_alias(self, name: str, target: str) -> str:
        """Add alias ``name`` of an account or a distribution list (which may be in another domain);
        returns its id."""
        with self.lock:
            kind = self._entry_kind(target)
            if kind not in ("account", "dl"):
                raise ValueError(f"no such account or distribution list: {target}")
            self._check_new_name(name)
            alias_id = self._new_id()
            self.aliases[name] = {
                "id": alias_id,
                "target": target,
                "type": "account" if kind == "account" else "dl",
            }
            return alias_id

    def _forget_target(self, name: str) -> None:
        """Drop the aliases of a deleted account or list and take it out of every list."""
        for alias in [a for a, entry in self.aliases.items() if entry["target"] == name]:
            del self.aliases[alias]
        for entry in self.lists.values():
            if name in entry["members"]:
                entry["members"].remove(name)

    def _domain_entries(self, domain: str | None, kinds) -> list[tuple[str, str]]:
        """``(name, kind)`` of the entries of those kinds in ``domain`` (every domain when
        ``None``), by name."""
        suffix = "@" + domain if domain else ""
        tables = self._tables()
        return sorted(
            (name, kind) for kind in kinds for name in tables[kind] if name.endswith(suffix)
        )

    def _ldap_attrs(self, name: str, kind: str) -> dict:
        """An entry's attributes as its LDAP entry holds them (object classes included), for
        ``query``."""
        attrs = dict(self._tables()[kind][name].get("attrs", {}))
        if kind == "alias":
            attrs.update(uid=name.partition("@")[0], zimbraId=self.aliases[name]["id"])
        attrs.setdefault("objectClass", OBJECT_CLASSES[kind])
        attrs.setdefault("mail", name)
        return attrs

    def _entry_element(self, name: str, kind: str, wanted=None):
        """The SearchDirectory element of one entry, shaped like the real server's."""
        if kind == "account":
            return self._account_element(name, self.accounts[name], None, wanted, isExternal="0")
        if kind == "calresource":
            return E(
                "calresource",
                {"name": name, "id": self.resources[name]["id"]},
                *a_elements(self.resources[name]["attrs"], wanted),
            )
        if kind in ("dl", "group"):
            entry = (self.lists if kind == "dl" else self.groups)[name]
            return E(
                "dl",
                {"name": name, "id": entry["id"], "dynamic": "1" if kind == "group" else "0"},
                *a_elements(entry["attrs"], wanted),
            )
        alias = self.aliases[name]
        target_id = (self.accounts if alias["type"] == "account" else self.lists)[alias["target"]][
            "id"
        ]
        attrs = {
            "uid": name.partition("@")[0],
            "zimbraAliasTargetId": target_id,
            "zimbraId": alias["id"],
            "objectClass": "zimbraAlias",
        }
        return E(
            "alias",
            {"name": name, "id": alias["id"], "targetName": alias["target"], "type": alias["type"]},
            *a_elements(attrs, wanted),
        )

    @staticmethod
    def search_kinds(types: str | None) -> list[str]:
        """The element kinds a SearchDirectory ``types`` list asks for (default ``accounts``)."""
        kinds = []
        for name in (types or "accounts").split(","):
            name = name.strip()
            if name not in SEARCH_TYPES:
                raise SimFault("service.INVALID_REQUEST", f"invalid request: unknown type: {name}")
            kinds.append(SEARCH_TYPES[name])
        return kinds

    def _find(self, table: dict, entry_id: str) -> str | None:
        return next((name for name, entry in table.items() if entry["id"] == entry_id), None)

    def search_matches(self, domain: str | None, types: str | None, query: str | None):
        """``(name, kind)`` of the entries a SearchDirectory finds: of ``types`` in ``domain``,
        matching ``query``."""
        entries = self._domain_entries(domain, self.search_kinds(types))
        if not query or not query.strip():
            return entries
        try:
            matches = compile_filter(query)
        except ValueError as err:
            raise SimFault(
                "service.INVALID_REQUEST", f"invalid request: invalid query: {query}: {err}"
            ) from None
        return [(name, kind) for name, kind in entries if matches(self._ldap_attrs(name, kind))]

    def check_search_cap(self, found: int, max_results: int) -> None:
        """``account.TOO_MANY_SEARCH_RESULTS`` when more entries match than ``max_results`` (0: no
        cap), as the directory's size limit fails the whole search, whatever part of it the request
        pages out."""
        if max_results and found > max_results:
            raise SimFault("account.TOO_MANY_SEARCH_RESULTS", TOO_MANY, sender=False)

    # --- operations -------------------------------------------------------------------------------

    def op_create_list(self, body):
        """CreateDistributionListRequest: ``name``, ``dynamic`` (1: a dynamic group) and ``<a n>``
        attributes."""
        name = (param(body, "name") or "").strip().lower()
        dynamic = flag(param(body, "dynamic"))
        attrs = dict(attr_items(body))
        try:
            if dynamic:
                self.add_dynamic_group(name, attrs.pop("memberURL", None), attrs)
            else:
                self.add_distribution_list(name, attrs=attrs)
        except ValueError as err:
            if "no such domain" in str(err):
                raise SimFault("account.NO_SUCH_DOMAIN", str(err)) from None
            raise SimFault(
                "account.DISTRIBUTION_LIST_EXISTS", f"email address already exists: {name}"
            ) from None
        kind = "group" if dynamic else "dl"
        return E("CreateDistributionListResponse", None, self._entry_element(name, kind))

    def op_delete_list(self, body):
        """DeleteDistributionListRequest by id: a list or a dynamic group, its aliases and
        memberships."""
        list_id = param(body, "id") or ""
        for table in (self.lists, self.groups):
            name = self._find(table, list_id)
            if name is not None:
                del table[name]
                self._forget_target(name)
                return E("DeleteDistributionListResponse")
        raise SimFault("account.NO_SUCH_DISTRIBUTION_LIST", f"no such distribution list: {list_id}")

    def op_delete_resource(self, body):
        """DeleteCalendarResourceRequest by id."""
        resource_id = param(body, "id") or ""
        name = self._find(self.resources, resource_id)
        if name is None:
            raise SimFault(
                "account.NO_SUCH_CALENDAR_RESOURCE", f"no such calendar resource: {resource_id}"
            )
        del self.resources[name]
        self._forget_target(name)
        return E("DeleteCalendarResourceResponse")

    DIRECTORY_OPS = {
        "CreateDistributionList": op_create_list,
        "DeleteDistributionList": op_delete_list,
        "DeleteCalendarResource": op_delete_resource,
    }
