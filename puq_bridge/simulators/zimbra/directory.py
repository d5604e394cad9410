"""Distribution lists, calendar resources and aliases of the fake Zimbra (a mixin of
:class:`~puq_bridge.simulators.zimbra.app.FakeZimbra`), and the directory search over every kind of
entry.

Like the real server, SearchDirectory returns each kind as its own element (``<account>``,
``<calresource>``, ``<dl>``, ``<alias>``) sorted by name across kinds, ``types="accounts"`` leaves
calendar resources and lists out, and DeleteDomain refuses while any entry of the domain remains.
Deleting an account or a list takes its aliases with it and drops the account from every list. Not
modelled: dynamic groups, list owners and rights, nested-list checks.
"""

from __future__ import annotations

from puq_bridge.simulators.zimbra.wire import E, SimFault, a_elements, param

#: SearchDirectory ``types`` the simulator knows → the reply element of each.
SEARCH_TYPES = {
    "accounts": "account",
    "resources": "calresource",
    "distributionlists": "dl",
    "aliases": "alias",
}
RESOURCE_TYPES = ("Location", "Equipment")


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
        for kind, table in (
            ("account", self.accounts),
            ("calresource", self.resources),
            ("dl", self.lists),
            ("alias", self.aliases),
        ):
            if name in table:
                return kind
        return None

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
        tables = {
            "account": self.accounts,
            "calresource": self.resources,
            "dl": self.lists,
            "alias": self.aliases,
        }
        return sorted(
            (name, kind) for kind in kinds for name in tables[kind] if name.endswith(suffix)
        )

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
        if kind == "dl":
            return E(
                "dl",
                {"name": name, "id": self.lists[name]["id"], "dynamic": "0"},
                *a_elements(self.lists[name]["attrs"], wanted),
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

    # --- operations -------------------------------------------------------------------------------

    def op_delete_list(self, body):
        """DeleteDistributionListRequest by id: the list, its aliases and its membership in other
        lists."""
        list_id = param(body, "id") or ""
        name = self._find(self.lists, list_id)
        if name is None:
            raise SimFault(
                "account.NO_SUCH_DISTRIBUTION_LIST", f"no such distribution list: {list_id}"
            )
        del self.lists[name]
        self._forget_target(name)
        return E("DeleteDistributionListResponse")

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
        "DeleteDistributionList": op_delete_list,
        "DeleteCalendarResource": op_delete_resource,
    }
