"""Shared by the sync tests: WHMCS plus several Zimbra servers, all simulators served on
loopback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from puq_bridge.config import ZimbraConfig
from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.usage.sync import SyncEngine

MB = 1024 * 1024
GB = 1024 * MB
ADMIN, PASSWORD = "admin@example.com", "zimbra-secret"


@dataclass
class Mail:
    """A FakeZimbra served on loopback, and the [[zimbra]] entry pointing at it."""

    sim: object
    server: BackgroundServer
    entry: ZimbraConfig


class Farm:
    """WHMCS plus several Zimbra servers, each one WHMCS server id."""

    def __init__(self, whmcs_sim):
        from puq_bridge.simulators.zimbra.app import FakeZimbra

        self._fake_zimbra = FakeZimbra
        self.whmcs = whmcs_sim
        self.client_id = whmcs_sim.add_client(
            "Jan", "Kowalski", "jan@example.pl", language="polish"
        )
        self.product = whmcs_sim.add_product("Private Zimbra mail server")
        self.mail: dict[str, Mail] = {}

    def add_mail(self, name: str) -> Mail:
        sim = self._fake_zimbra(ADMIN, PASSWORD, host=f"{name}.example.com")
        server = BackgroundServer(sim.wsgi_app).start()
        server_id = self.whmcs.add_server(name, f"{name}.example.com", "192.0.2.1")
        entry = ZimbraConfig(
            name=name,
            whmcs_server=server_id,
            url=server.url,
            admin_user=ADMIN,
            password=PASSWORD,
            timeout=2,
        )
        self.mail[name] = Mail(sim, server, entry)
        return self.mail[name]

    def domain(self, mail: str, domain: str, *boxes: tuple[int, int]) -> None:
        """A domain with mailboxes given as (used bytes, quota bytes)."""
        sim = self.mail[mail].sim
        sim.add_domain(domain)
        for i, (used, quota) in enumerate(boxes):
            sim.add_account(f"user{i}@{domain}", quota=quota, used=used)

    def service(self, mail: str | None, domain: str, **kw) -> int:
        server_id = self.mail[mail].entry.whmcs_server if mail else kw.pop("server_id", None)
        return self.whmcs.add_service(
            self.client_id, kw.pop("product", self.product), domain, server_id=server_id, **kw
        )

    def engine(self, whmcs_client, **kw) -> SyncEngine:
        from puq_bridge.zimbra.client import ZimbraAdmin

        def factory(entry):
            return ZimbraAdmin(
                entry.url, entry.admin_user, entry.password, name=entry.name, timeout=2
            )

        return SyncEngine(whmcs_client, [m.entry for m in self.mail.values()], factory, **kw)

    def writes(self) -> dict[int, dict]:
        """service id -> params of every UpdateClientProduct WHMCS received."""
        return {
            int(r["params"]["serviceid"]): r["params"]
            for r in self.whmcs.requests
            if r["action"] == "UpdateClientProduct"
        }

    def stop(self) -> None:
        for m in self.mail.values():
            m.server.stop()


def write_config(
    tmp_path: Path, whmcs_url: str, farm: Farm, *, sync: str = ""
) -> tuple[Path, Path, dict[str, str]]:
    """``bridge.toml`` for the farm (secrets only through ``*_env``); returns (config, store path,
    environment)."""
    env = {"T_WHMCS_SECRET": "whmcs-secret"}
    store = tmp_path / "data" / "usage.sqlite3"
    lines = [
        "[whmcs]",
        f'url = "{whmcs_url}"',
        'identifier = "whmcs-id"',
        'secret_env = "T_WHMCS_SECRET"',
        "timeout = 2",
        "",
        "[store]",
        f'path = "{store}"',
        "",
        "[sync]",
        sync,
        "",
    ]
    for i, mail in enumerate(farm.mail.values()):
        e = mail.entry
        env[f"T_ZIMBRA_{i}"] = e.password
        lines += [
            "[[zimbra]]",
            f'name = "{e.name}"',
            f"whmcs_server = {e.whmcs_server}",
            f'url = "{e.url}"',
            f'admin_user = "{e.admin_user}"',
            f'password_env = "T_ZIMBRA_{i}"',
            "timeout = 2",
            "",
        ]
    path = tmp_path / "bridge.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, store, env
