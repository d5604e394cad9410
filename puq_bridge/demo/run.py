"""``puq-bridge demo``: the whole flow against the built-in simulators, with nothing outside this
machine.

:func:`run_demo` starts a fake WHMCS and two fake Zimbra servers on loopback, loads the sample data
set (:mod:`puq_bridge.demo.sample`), starts the adapter on loopback, and then does what a real
installation does:

1. WHMCS provisions every service: its API's ``ModuleCreate`` calls the module, whose forwarder
   posts a signed ``/whmcs/CreateAccount`` with WHMCS-shaped params to the adapter, which creates
   the domain and primary mailbox in Zimbra; one service is then suspended the same way
   (``ModuleSuspend`` → ``SuspendAccount``);
2. the clients add the rest of their mailboxes in the Zimbra admin panel (directly in the Zimbra
   simulator);
3. the usage sync runs on several days of the last month (an injected clock), while the mailboxes
   fill up, so the store has a history;
4. both tabs of every service are rendered in Polish and English as standalone pages, plus an
   ``index.html``.

With ``serve=True`` the servers are left running (:meth:`DemoEnvironment.stop` ends them). Every
secret is random per run and never printed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from puq_bridge.demo.sample import HISTORY_DAYS, Sample, SampleService, build_sample
from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.whmcs.params import ClientDetails, ModuleParams, ServerParams

log = logging.getLogger(__name__)

#: Days before today on which the demo runs the usage sync (0 = today).
SYNC_DAYS = (30, 26, 22, 18, 14, 11, 8, 6, 4, 2, 1, 0)
LANGS = ("pl", "en")
MODULE_NAME = "puqbridge"
#: WHMCS's ``Module*`` API action → the module function the forwarder calls.
MODULE_FUNCTIONS = {
    "ModuleCreate": "CreateAccount",
    "ModuleSuspend": "SuspendAccount",
    "ModuleUnsuspend": "UnsuspendAccount",
    "ModuleTerminate": "TerminateAccount",
    "ModuleChangePw": "ChangePassword",
    "ModuleChangePackage": "ChangePackage",
}


@dataclass
class DemoReport:
    """What a demo run did: the pages written, the steps, the counts and how many requests each
    server answered."""

    out_dir: Path
    index: Path
    pages: list[Path]
    steps: list[str] = field(default_factory=list)
    addon_pages: list[Path] = field(default_factory=list)  # the admin page, per language
    step_times: list[float] = field(
        default_factory=list
    )  # seconds since the start, as each step ended
    counts: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    adapter_calls: dict[str, int] = field(default_factory=dict)
    services: dict[int, str] = field(default_factory=dict)  # WHMCS service id -> mail domain
    urls: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0


class Forwarder:
    """Does what the generated PHP forwarder does inside WHMCS: signed POSTs of whitelisted params
    to the adapter."""

    def __init__(self, adapter_url: str, secret: str, *, timeout: float = 30):
        import requests

        self.url, self._secret, self.timeout = adapter_url.rstrip("/"), secret, timeout
        self.session = requests.Session()
        self.calls: dict[str, int] = {}

    def call(self, function: str, params: dict[str, Any]) -> Any:
        """POST ``/whmcs/<function>``; returns the adapter's ``result``. Raises :class:`DemoError`
        on HTTP errors."""
        from whmcs_module.signing import HEADER, sign

        # Like the PHP forwarder: a nonce, so two identical calls in one second are not taken for a
        # replay.
        body = json.dumps(
            {"params": params, "nonce": secrets.token_hex(8)}, ensure_ascii=False
        ).encode("utf-8")
        reply = self.session.post(
            f"{self.url}/whmcs/{function}",
            data=body,
            timeout=self.timeout,
            headers={"Content-Type": "application/json", HEADER: sign(self._secret, body)},
        )
        self.calls[function] = self.calls.get(function, 0) + 1
        if reply.status_code != 200:
            raise DemoError(f"adapter {function}: HTTP {reply.status_code} {reply.text[:200]}")
        return reply.json()["result"]

    @property
    def count(self) -> int:
        """Requests sent so far."""
        return sum(self.calls.values())

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()


class DemoError(Exception):
    """A step of the demo did not do what it should (a bug, not a user error); the message says
    which step."""


class DemoEnvironment:
    """The running pieces of the demo: WHMCS and Zimbra simulators, the adapter, the store, the
    sample.

    ``store_path``: keep the usage store there (a sandbox for the CLI), else in a temporary folder.
    ``live_urls``: the webmail and admin-panel addresses are the Zimbra simulators' own (so the
    sign-on buttons of served pages land there), not the sample's host names.
    """

    def __init__(self, sample: Sample, *, store_path: Path | None = None, live_urls: bool = False):
        from puq_bridge.simulators.whmcs.app import FakeWhmcs
        from puq_bridge.simulators.zimbra.app import FakeZimbra

        self.sample = sample
        self.live_urls = live_urls
        self._tmp = tempfile.TemporaryDirectory(prefix="puq-bridge-demo-")
        self.workdir = Path(self._tmp.name)  # removed by stop()
        #: the usage store: kept where the caller says (a sandbox for the CLI), else in workdir
        self.store_path = Path(store_path) if store_path else self.workdir / "usage.sqlite3"
        self._whmcs_secret = secrets.token_hex(16)
        self._zimbra_passwords = {s.key: secrets.token_hex(16) for s in sample.servers}
        self.whmcs_sim = FakeWhmcs(identifier="demo-api", secret=self._whmcs_secret)
        self.zimbra_sims = {
            s.key: FakeZimbra(s.admin_user, self._zimbra_passwords[s.key], host=s.hostname)
            for s in sample.servers
        }
        self.adapter_secret = secrets.token_hex(32)
        self.servers: dict[str, BackgroundServer] = {}
        self.ids: dict[str, int] = {}  # sample key ("client:nowak", "service:nowak"...) -> WHMCS id
        self.by_service_id: dict[int, SampleService] = {}
        self.config = None
        self.store = None
        self.forwarder: Forwarder | None = None
        self._adapter_ctx = None
        self._whmcs_client = None

    # --- life cycle -------------------------------------------------------------------------------

    def start(self) -> "DemoEnvironment":
        """Start the simulators, load WHMCS's side of the sample, and start the adapter."""
        self.servers["whmcs"] = BackgroundServer(self.whmcs_sim.wsgi_app).start()
        for key, sim in self.zimbra_sims.items():
            self.servers[key] = BackgroundServer(sim.wsgi_app).start()
        self._load_whmcs()
        self.config = self._config()
        from puq_bridge.usage.store import UsageStore

        self.store = UsageStore(self.config.store.path, detail_days=self.config.store.detail_days)
        self._start_adapter()
        return self

    def stop(self) -> None:
        """Stop every server and close the clients and the store."""
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
        for thing in (self.forwarder, self._adapter_ctx, self._whmcs_client, self.store):
            close = getattr(
                thing, "close", None
            )  # WhmcsClient has no close(): its session just goes
            if close is not None:
                close()
        self.forwarder = self._adapter_ctx = self._whmcs_client = self.store = None
        self._tmp.cleanup()

    def __enter__(self) -> "DemoEnvironment":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def urls(self) -> dict[str, str]:
        """Base URL of every running server (``whmcs``, ``mail1``, ``mail2``, ``adapter``, ``pages``
        when served)."""
        return {name: server.url for name, server in self.servers.items()}

    def whmcs(self):
        """The :class:`~puq_bridge.whmcs.client.WhmcsClient` the demo uses, on the WHMCS
        simulator."""
        if self._whmcs_client is None:
            from puq_bridge.whmcs.client import WhmcsClient

            self._whmcs_client = WhmcsClient.from_config(self.config.whmcs)
        return self._whmcs_client

    def zimbra(self, entry):
        """A :class:`~puq_bridge.zimbra.client.ZimbraAdmin` for one configured simulator."""
        from puq_bridge.zimbra.client import ZimbraAdmin

        return ZimbraAdmin.from_config(entry)

    # --- set-up -----------------------------------------------------------------------------------

    def _load_whmcs(self) -> None:
        sim, sample = self.whmcs_sim, self.sample
        for c in sample.clients:
            self.ids[f"client:{c.key}"] = sim.add_client(
                c.firstname,
                c.lastname,
                c.email,
                language=c.language,
                currency_code=c.currency_code,
                companyname=c.companyname,
            )
        for p in sample.products:
            self.ids[f"product:{p.key}"] = sim.add_product(p.name, module=MODULE_NAME, group="Mail")
        for s in sample.servers:
            self.ids[f"server:{s.key}"] = sim.add_server(
                s.name, s.hostname, s.ip, module=MODULE_NAME
            )
        for s in sample.services:
            sid = sim.add_service(
                self.ids[f"client:{s.client.key}"],
                self.ids[f"product:{s.product.key}"],
                s.domain,
                server_id=self.ids[f"server:{s.server.key}"],
                status="Pending",
                billing_cycle=s.billing_cycle,
                recurring_amount=s.recurring_amount,
                regdate=s.regdate.isoformat(),
                next_due_date=s.next_due_date.isoformat(),
                payment_method=s.payment_method,
                payment_method_name=s.payment_method_name,
                username=s.username,
                password=s.password,
                config_options={"Total space (GB)": _number(s.product.total_space_gb)},
            )
            self.ids[f"service:{s.key}"] = sid
            self.by_service_id[sid] = s

    def _config(self):
        from puq_bridge.config import parse_config

        raw = {
            "whmcs": {
                "url": self.servers["whmcs"].url,
                "identifier": self.whmcs_sim.identifier,
                "secret": self._whmcs_secret,
                "timeout": 10,
            },
            "zimbra": [
                {
                    "name": s.key,
                    "whmcs_server": self.ids[f"server:{s.key}"],
                    "url": self.servers[s.key].url,
                    "admin_user": s.admin_user,
                    "password": self._zimbra_passwords[s.key],
                    "timeout": 10,
                    **self._addresses(s),
                }
                for s in self.sample.servers
            ],
            "sync": {"products": [self.ids[f"product:{p.key}"] for p in self.sample.products]},
            "store": {"path": str(self.store_path), "detail_days": 14},
            "adapter": {"listen": "127.0.0.1:8750", "secret": self.adapter_secret},
        }
        self._raw_config = raw
        return parse_config(raw, "demo", env={})

    def config_toml(self) -> str:
        """The running demo as a config file for the CLI: the simulators' URLs and credentials, the
        adapter's address and secret, the store (secrets inline: write it readable by you only)."""
        raw = dict(self._raw_config)
        adapter = self.servers["adapter"]
        raw["adapter"] = dict(raw["adapter"], listen=f"{adapter.host}:{adapter.port}")
        lines = ["# puq-bridge demo sandbox: valid while `puq-bridge demo --serve` runs", ""]
        for table in ("whmcs", "sync", "store", "adapter"):
            lines += [f"[{table}]", *_toml_pairs(raw[table]), ""]
        for entry in raw["zimbra"]:
            lines += ["[[zimbra]]", *_toml_pairs(entry), ""]
        return "\n".join(lines)
    def _addresses(self, server) -> dict[str, str]:
        """The webmail and admin-panel addresses the pages show and sign-ons point to."""
        if self.live_urls:
            url = self.servers[server.key].url
            return {"webmail_url": f"{url}/", "admin_url": f"{url}/zimbraAdmin/"}
        return {
            "webmail_url": f"https://{server.hostname}/",
            "admin_url": f"https://{server.hostname}:7071/zimbraAdmin/",
        }

    def _start_adapter(self) -> None:
        from whmcs_module.context import AdapterContext
        from whmcs_module.http import make_app

        self._adapter_ctx = AdapterContext(
            self.config, store=self.store, whmcs=self.whmcs, zimbra_factory=self.zimbra
        )
        # a page never waits for the names: have them before the first
        self._adapter_ctx.payment_methods.refresh_now()
        app = make_app(
            self._adapter_ctx, self.adapter_secret, max_body=self.config.adapter.max_body
        )
        self.servers["adapter"] = BackgroundServer(app).start()
        self.forwarder = Forwarder(self.servers["adapter"].url, self.adapter_secret)
        self.whmcs_sim.module_hook = self._module_hook

    # --- what WHMCS's module does -----------------------------------------------------------------

    def _module_hook(self, action: str, row: dict[str, Any]) -> str:
        """WHMCS ran a ``Module*`` action: the module's forwarder posts the matching function to the
        adapter."""
        function = MODULE_FUNCTIONS.get(action)
        if function is None:
            return f"the demo module has no {action}"
        result = self.forwarder.call(function, self.module_params(int(row["id"]), row))
        return result if isinstance(result, str) else json.dumps(result)

    def module_params(self, service_id: int, row: dict[str, Any] | None = None) -> dict[str, Any]:
        """The params the forwarder sends for a service: WHMCS's ``$params`` after its whitelist."""
        s = self.by_service_id[service_id]
        row = row or self.whmcs_sim.services[service_id]
        client_id = self.ids[f"client:{s.client.key}"]
        params = ModuleParams.build(
            service_id=service_id,
            domain=s.domain,
            username=s.username,
            password=s.password,
            status=row.get("status", ""),
            product=s.product.module_settings(),
            product_id=self.ids[f"product:{s.product.key}"],
            server=ServerParams(
                server_id=str(self.ids[f"server:{s.server.key}"]),
                hostname=s.server.hostname,
                ip=s.server.ip,
                port="7071",
                secure=True,
                username=s.server.admin_user,
                password=self._zimbra_passwords[s.server.key],
            ),
            client=ClientDetails(str(client_id), s.client.language, s.client.currency_code),
            service={
                "regdate": s.regdate.isoformat(),
                "nextduedate": s.next_due_date.isoformat(),
                "billingcycle": s.billing_cycle,
                "amount": s.recurring_amount,
                "paymentmethod": s.payment_method,
                "status": row.get("status", ""),
            },
            options={"Total space (GB)": _number(s.product.total_space_gb)},
        )
        return params.to_wire()

    def terminate_a_leaving_client(self) -> str:
        """CreateAccount, then TerminateAccount, of a domain that holds a mailbox besides the
        primary one, a distribution list and a dynamic group (which Zimbra's DeleteDomain refuses
        to delete around): the terminate path as WHMCS drives it. Returns the domain."""
        s = self.sample.services[0]
        domain = "byly-klient.pl"
        params = ModuleParams.build(
            service_id=900_001,
            domain=domain,
            username="biuro",
            password=secrets.token_urlsafe(12) + "-Aa1",
            product=s.product.module_settings(),
            server=ServerParams(
                server_id=str(self.ids[f"server:{s.server.key}"]),
                hostname=s.server.hostname,
                username=s.server.admin_user,
                password=self._zimbra_passwords[s.server.key],
            ),
        ).to_wire()
        sim = self.zimbra_sims[s.server.key]
        if self.forwarder.call("CreateAccount", params) != "success":
            raise DemoError(f"CreateAccount of {domain} failed")
        sim.add_account(f"sekretariat@{domain}", quota=0)
        sim.add_distribution_list(f"wszyscy@{domain}", members=[f"biuro@{domain}"])
        sim.add_dynamic_group(f"dynamiczna@{domain}")
        answer = self.forwarder.call("TerminateAccount", params)
        if answer != "success" or domain in sim.domains:
            raise DemoError(f"TerminateAccount of {domain} left it behind: {answer}")
        return domain

    # --- the scenario's steps ---------------------------------------------------------------------

    def provision(self) -> tuple[int, int]:
        """ModuleCreate every service, then ModuleSuspend the ones the sample suspends; returns the
        two counts."""
        whmcs = self.whmcs()
        for sid in self.by_service_id:
            whmcs.module_create(sid)
        suspended = [sid for sid, s in self.by_service_id.items() if s.suspend]
        for sid in suspended:
            whmcs.module_suspend(sid, reason="Overdue invoice")
        return len(self.by_service_id), len(suspended)

    def add_client_mailboxes(self, days_ago: int = HISTORY_DAYS) -> int:
        """Create the mailboxes the clients made themselves, directly in Zimbra; returns how
        many."""
        added = 0
        for s in self.sample.services:
            sim = self.zimbra_sims[s.server.key]
            for box in s.mailboxes:
                if box.name in sim.accounts:
                    sim.set_used(box.name, box.used_on(days_ago))
                    continue
                sim.add_account(
                    box.name,
                    password=secrets.token_hex(8),
                    quota=box.quota_bytes,
                    used=box.used_on(days_ago),
                )
                added += 1
            for system in s.system_accounts:  # Zimbra's own accounts: the pages must leave them out
                if system.name not in sim.accounts:
                    sim.add_account(
                        system.name,
                        quota=system.quota_bytes,
                        used=system.used_bytes,
                        attrs=dict(system.attrs),
                    )
        return added

    def set_usage(self, days_ago: int) -> None:
        """Every mailbox's usage as it was ``days_ago`` days ago."""
        for s in self.sample.services:
            sim = self.zimbra_sims[s.server.key]
            for box in s.mailboxes:
                sim.set_used(box.name, box.used_on(days_ago))

    def client_area(self, service_id: int) -> str:
        """The adapter's ClientArea for a service: the HTML WHMCS prints on the client's service
        page."""
        result = self.forwarder.call("ClientArea", self.module_params(service_id))
        if not isinstance(result, dict):
            raise DemoError(f"ClientArea of service {service_id}: {result}")
        return "".join(v for v in result.get("vars", {}).values() if isinstance(v, str))

    def sync(self, when: dt.datetime):
        """One usage sync run as of ``when`` (the injected clock)."""
        from puq_bridge.usage.sync import SyncEngine

        cfg = self.config
        engine = SyncEngine.from_config(
            cfg, self.whmcs(), self.zimbra, store=self.store, clock=lambda: when
        )
        return engine.run()


def _toml_pairs(table: dict) -> list[str]:
    """``key = value`` lines of a flat TOML table (strings, numbers, lists of them)."""
    return [f"{key} = {json.dumps(value)}" for key, value in table.items()]


def run_demo(
    out_dir: str | Path = "puq-bridge-demo",
    *,
    serve: bool = False,
    store_path: Path | None = None,
    now: dt.datetime | None = None,
    echo: Callable[[str], None] = lambda line: None,
) -> tuple[DemoReport, DemoEnvironment | None]:
    """Run the demo scenario and write the pages into ``out_dir``.

    Args:
        out_dir: where the pages go (created if missing).
        serve: leave the servers running and serve the pages too; the caller must ``stop()`` the
            returned environment.
        now: the demo's "now" (default: the current time); the sync runs fall on days before it.
        echo: called with one line per step, as it happens.
        store_path: keep the usage store there (default: a temporary folder removed at the end).

    Returns:
        The report, and the running environment when ``serve`` is true (else ``None``).
    """
    from puq_bridge.demo.addon_page import addon_app, write_addon_pages
    from puq_bridge.demo.pages import serve_pages, write_pages

    started = time.monotonic()
    now = now or dt.datetime.now(dt.timezone.utc)
    sample = build_sample(today=now.date())
    env = DemoEnvironment(sample, store_path=store_path, live_urls=serve)
    report = DemoReport(out_dir=Path(out_dir), index=Path(out_dir) / "index.html", pages=[])

    def step(line: str) -> None:
        report.steps.append(line)
        report.step_times.append(time.monotonic() - started)
        echo(line)

    try:
        env.start()
        step(
            f"started WHMCS simulator, {len(env.zimbra_sims)} Zimbra simulators "
            "and the adapter on 127.0.0.1"
        )
        _scenario(env, now, report, step)
        report.pages = write_pages(env, Path(out_dir), now=now, signon=serve)
        step(
            f"wrote {len(report.pages)} pages "
            f"({len(sample.services)} services x {len(LANGS)} languages) "
            f"and {report.index}"
        )
        report.addon_pages = write_addon_pages(env, Path(out_dir))
        names = ", ".join(p.name for p in report.addon_pages)
        step(f"tested every server from the addon page (Test now) and wrote {names}")
        report.requests = _request_counts(env)
        report.adapter_calls = dict(env.forwarder.calls)
        report.services = {sid: s.domain for sid, s in env.by_service_id.items()}
        if serve:
            env.servers["pages"] = serve_pages(Path(out_dir), env=env, addon=addon_app(env))
            report.urls = env.urls
            return _finish(report, started), env
    except BaseException:
        env.stop()
        raise
    env.stop()
    return _finish(report, started), None


def _scenario(
    env: DemoEnvironment, now: dt.datetime, report: DemoReport, step: Callable[[str], None]
) -> None:
    sample = env.sample
    report.counts.update(
        clients=len(sample.clients),
        services=len(sample.services),
        servers=len(sample.servers),
        mailboxes=sample.mailbox_count,
    )
    step(
        f"loaded WHMCS: {len(sample.clients)} clients, {len(sample.products)} products, "
        f"{len(sample.servers)} servers, {len(sample.services)} services"
    )
    created, suspended = env.provision()
    step(
        f"provisioned {created} services through the adapter (ModuleCreate -> CreateAccount), "
        f"suspended {suspended} (ModuleSuspend -> SuspendAccount)"
    )
    added = env.add_client_mailboxes()
    step(f"clients added {added} more mailboxes in Zimbra ({sample.mailbox_count} in all)")
    runs = []
    for days_ago in SYNC_DAYS:
        env.set_usage(days_ago)
        when = now - dt.timedelta(days=days_ago, minutes=5)
        result = env.sync(when)
        if result.exit_code != 0:
            failed = "; ".join(f"{r.domain}: {r.error}" for r in result.failed)
            raise DemoError(f"sync of {when:%Y-%m-%d} failed: {failed}")
        runs.append(result)
    totals = runs[-1].totals
    report.counts.update(sync_runs=len(runs), updated_last_run=totals.get("updated", 0))
    step(
        f"ran sync-usage {len(runs)} times from {SYNC_DAYS[0]} days ago to today; last run: "
        + ", ".join(f"{k} {v}" for k, v in totals.items())
    )
    domain = env.terminate_a_leaving_client()
    step(
        f"a leaving client's {domain} (mailboxes, a list, a dynamic group) provisioned and "
        "terminated through the adapter (TerminateAccount): the domain is gone"
    )
    sizes = [len(env.client_area(sid)) for sid in env.by_service_id]
    step(
        f"asked the adapter for ClientArea of {len(sizes)} services "
        f"({sum(sizes) // 1024} KiB of HTML)"
    )


def _request_counts(env: DemoEnvironment) -> dict[str, int]:
    counts = {"whmcs": len(env.whmcs_sim.requests)}
    counts.update({f"zimbra {key}": len(sim.requests) for key, sim in env.zimbra_sims.items()})
    counts["adapter"] = env.forwarder.count if env.forwarder else 0
    return counts


def _finish(report: DemoReport, started: float) -> DemoReport:
    report.duration_s = round(time.monotonic() - started, 2)
    return report


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
