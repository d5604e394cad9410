"""A realistic, deterministic sample data set for the simulators: clients, products, servers,
services, mailboxes.

Used by ``puq-bridge demo`` and handy for operators' dry runs and tests. The sample is plain data;
nothing here starts a server. :func:`build_sample` makes the same data for the same ``seed`` and
``today`` every time: five clients (Polish and English), two products, services on two Zimbra
servers, and a few hundred mailboxes with varied usage: empty ones, unlimited quotas, a big archive
and one mailbox that is nearly full. One domain has 250 mailboxes (the business product's maximum),
so the client area's filter and paging have something to page through.

Usage changes over time: :meth:`SampleMailbox.used_on` gives a mailbox's bytes a number of days
before ``today``, so a demo can run the usage sync on several days and build a history.

Some domains also hold the accounts Zimbra keeps for itself (:class:`SampleSystemAccount`: a GAL
sync account, the spam/ham training and virus quarantine accounts), as real servers do: the pages,
counts and totals must leave them out.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from puq_bridge.units import GB, MB
from puq_bridge.whmcs.params import ProductSettings

#: How many days of usage history the sample describes (``used_on(HISTORY_DAYS)`` is the oldest
#: point).
HISTORY_DAYS = 30


@dataclass(frozen=True)
class SampleClient:
    """A WHMCS client of the sample."""

    key: str
    firstname: str
    lastname: str
    email: str
    companyname: str
    language: str  # WHMCS language name: "polish", "english"
    currency_code: str


@dataclass(frozen=True)
class SampleProduct:
    """A WHMCS product served by the bridge, with its six module settings (``configoption1..6``)."""

    key: str
    name: str
    default_quota_mb: int
    max_mailboxes: int
    total_space_gb: float
    cos: str = ""
    suspension_policy: str = "locked"
    tenancy: str = "domain"

    def module_settings(self) -> ProductSettings:
        """The product's six module settings as WHMCS passes them."""
        return ProductSettings.of(
            quota_mb=self.default_quota_mb,
            max_mailboxes=self.max_mailboxes,
            total_space_gb=_number(self.total_space_gb),
            cos=self.cos,
            suspension_policy=self.suspension_policy,
            tenancy=self.tenancy,
        )


@dataclass(frozen=True)
class SampleServer:
    """A Zimbra server as WHMCS knows it (a row of WHMCS's server list)."""

    key: str
    name: str
    hostname: str
    ip: str
    admin_user: str = "admin@example.com"


@dataclass(frozen=True)
class SampleMailbox:
    """One mailbox: its quota (0 = unlimited) and how its usage grew over the last
    :data:`HISTORY_DAYS` days."""

    name: str
    quota_bytes: int
    used_bytes: int  # today
    growth: float = 0.0  # fraction of today's usage added over the history window

    @property
    def local_part(self) -> str:
        """The part before ``@``."""
        return self.name.partition("@")[0]

    def used_on(self, days_ago: int) -> int:
        """Bytes used ``days_ago`` days before today (linear growth, never above today's figure)."""
        days_ago = max(0, min(days_ago, HISTORY_DAYS))
        start = self.used_bytes / (1.0 + self.growth) if self.growth > 0 else self.used_bytes
        value = self.used_bytes - (self.used_bytes - start) * days_ago / HISTORY_DAYS
        return int(value)


@dataclass(frozen=True)
class SampleSystemAccount:
    """An account Zimbra keeps for itself inside a client's domain, with the attributes that say so
    (``zimbraIsSystemAccount`` / ``zimbraIsSystemResource``): not a client's mailbox."""

    name: str
    quota_bytes: int
    used_bytes: int
    attrs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SampleService:
    """A WHMCS service: one mail domain on one Zimbra server, with its mailboxes (the primary one
    first)."""

    key: str
    client: SampleClient
    product: SampleProduct
    server: SampleServer
    domain: str
    username: str
    password: str = field(repr=False)
    regdate: dt.date = dt.date(2025, 1, 15)
    next_due_date: dt.date = dt.date(2026, 12, 15)
    billing_cycle: str = "Monthly"
    recurring_amount: str = "49.00"
    payment_method: str = "banktransfer"
    payment_method_name: str = "Bank Transfer"
    suspend: bool = False
    mailboxes: tuple[SampleMailbox, ...] = ()
    system_accounts: tuple[SampleSystemAccount, ...] = ()

    @property
    def primary(self) -> str:
        """The primary mailbox ``username@domain`` that CreateAccount makes."""
        return f"{self.username}@{self.domain}"


@dataclass(frozen=True)
class Sample:
    """The whole sample: what WHMCS holds and what the Zimbra servers hold."""

    today: dt.date
    clients: tuple[SampleClient, ...]
    products: tuple[SampleProduct, ...]
    servers: tuple[SampleServer, ...]
    services: tuple[SampleService, ...]

    @property
    def mailbox_count(self) -> int:
        """Mailboxes over all services."""
        return sum(len(s.mailboxes) for s in self.services)

    def services_on(self, server: SampleServer) -> list[SampleService]:
        """The services hosted on one server."""
        return [s for s in self.services if s.server.key == server.key]


PL_FIRST = [
    "anna",
    "piotr",
    "katarzyna",
    "tomasz",
    "magdalena",
    "krzysztof",
    "agnieszka",
    "pawel",
    "ewa",
    "michal",
    "joanna",
    "marcin",
    "barbara",
    "lukasz",
    "dorota",
    "jakub",
    "monika",
    "grzegorz",
    "aleksandra",
    "wojciech",
]
PL_LAST = [
    "nowak",
    "kowalska",
    "wisniewski",
    "wojcik",
    "kaminska",
    "lewandowski",
    "zielinska",
    "szymanski",
    "wozniak",
    "dabrowska",
    "kozlowski",
    "jankowska",
    "mazur",
    "krawczyk",
    "piotrowska",
    "grabowski",
]
EN_FIRST = [
    "james",
    "olivia",
    "william",
    "emma",
    "henry",
    "amelia",
    "george",
    "isla",
    "thomas",
    "sophie",
    "jack",
    "grace",
    "oliver",
    "lily",
    "harry",
    "chloe",
    "charlie",
    "ella",
    "daniel",
    "mia",
]
EN_LAST = [
    "smith",
    "jones",
    "taylor",
    "brown",
    "williams",
    "wilson",
    "johnson",
    "davies",
    "robinson",
    "wright",
    "thompson",
    "evans",
    "walker",
    "white",
    "roberts",
    "green",
]
PL_ROLES = ["biuro", "faktury", "kadry", "sekretariat", "kontakt", "rekrutacja", "zamowienia"]
EN_ROLES = ["office", "accounts", "hr", "sales", "support", "info", "careers"]


def build_sample(*, today: dt.date | None = None, seed: int = 2026) -> Sample:
    """The sample data set for ``today`` (default: the current UTC date); the same arguments give
    the same data."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    rng = random.Random(seed)
    clients = _clients()
    products = (
        SampleProduct("business", "Zimbra Mail Business", 2048, 250, 200),
        SampleProduct("private", "Private Zimbra mail server", 5120, 0, 500),
    )
    servers = (
        SampleServer("mail1", "Zimbra WAW-1", "mail1.example.com", "192.0.2.10"),
        SampleServer("mail2", "Zimbra LON-1", "mail2.example.net", "198.51.100.20"),
    )
    c = {x.key: x for x in clients}
    p = {x.key: x for x in products}
    s = {x.key: x for x in servers}
    plans = [
        # key, client, product, server, domain, username, mailboxes, polish names, extra
        (
            "nowak",
            c["nowak"],
            p["business"],
            s["mail1"],
            "kancelaria-nowak.pl",
            "biuro",
            250,
            True,
            {"nearly_full": True, "galsync": True, "spam": True},
        ),
        (
            "piekarnia",
            c["zielinska"],
            p["business"],
            s["mail1"],
            "piekarnia-zielinska.pl",
            "biuro",
            18,
            True,
            {"billing_cycle": "Annually", "recurring_amount": "490.00"},
        ),
        (
            "szkola",
            c["szkola"],
            p["private"],
            s["mail1"],
            "sp5-gdynia.edu.pl",
            "sekretariat",
            84,
            True,
            {"recurring_amount": "199.00", "billing_cycle": "Quarterly"},
        ),
        (
            "harbour",
            c["carter"],
            p["private"],
            s["mail2"],
            "harbourlogistics.co.uk",
            "office",
            72,
            False,
            {
                "recurring_amount": "149.00",
                "payment_method": "stripe",
                "payment_method_name": "Credit Card",
                "nearly_full": True,
                "galsync": True,
            },
        ),
        (
            "brightwave",
            c["clarke"],
            p["business"],
            s["mail2"],
            "brightwave.studio",
            "hello",
            26,
            False,
            {
                "recurring_amount": "39.00",
                "payment_method": "paypal",
                "payment_method_name": "PayPal",
            },
        ),
        (
            "brightwave-old",
            c["clarke"],
            p["business"],
            s["mail2"],
            "brightwave-archive.com",
            "archive",
            6,
            False,
            {
                "recurring_amount": "12.00",
                "suspend": True,
                "payment_method": "paypal",
                "payment_method_name": "PayPal",
            },
        ),
    ]
    services = []
    for i, (key, client, product, server, domain, username, count, polish, extra) in enumerate(
        plans
    ):
        mailboxes = _mailboxes(
            rng, domain, username, count, product, polish, extra.pop("nearly_full", False)
        )
        system = _system_accounts(domain, extra.pop("galsync", False), extra.pop("spam", False))
        services.append(
            SampleService(
                key=key,
                client=client,
                product=product,
                server=server,
                domain=domain,
                username=username,
                password=_password(rng),
                regdate=today - dt.timedelta(days=400 - 37 * i),
                next_due_date=today + dt.timedelta(days=5 + 9 * i),
                mailboxes=mailboxes,
                system_accounts=system,
                **extra,
            )
        )
    return Sample(today, clients, products, servers, tuple(services))


def _clients() -> tuple[SampleClient, ...]:
    return (
        SampleClient(
            "nowak",
            "Anna",
            "Nowak",
            "anna.nowak@kancelaria-nowak.pl",
            "Kancelaria Prawna Nowak i Wspólnicy",
            "polish",
            "PLN",
        ),
        SampleClient(
            "zielinska",
            "Grażyna",
            "Zielińska",
            "grazyna@piekarnia-zielinska.pl",
            "Piekarnia Zielińska",
            "polish",
            "PLN",
        ),
        SampleClient(
            "szkola",
            "Łukasz",
            "Wróbel",
            "sekretariat@sp5-gdynia.edu.pl",
            "Szkoła Podstawowa nr 5 w Gdyni",
            "polish",
            "PLN",
        ),
        SampleClient(
            "carter",
            "James",
            "Carter",
            "james.carter@harbourlogistics.co.uk",
            "Harbour Logistics Ltd",
            "english",
            "GBP",
        ),
        SampleClient(
            "clarke",
            "Emily",
            "Clarke",
            "emily@brightwave.studio",
            "Brightwave Studio",
            "english",
            "USD",
        ),
    )


def _mailboxes(
    rng: random.Random,
    domain: str,
    username: str,
    count: int,
    product: SampleProduct,
    polish: bool,
    nearly_full: bool,
) -> tuple[SampleMailbox, ...]:
    """``count`` mailboxes of a domain: the primary, role addresses, then people; varied usage and
    quotas."""
    default_quota = product.default_quota_mb * MB
    roles = PL_ROLES if polish else EN_ROLES
    first, last = (PL_FIRST, PL_LAST) if polish else (EN_FIRST, EN_LAST)
    names = [username] + [r for r in roles if r != username]
    people = [f"{f}.{_surname(f, ln, polish)}" for ln in last for f in first]
    rng.shuffle(people)
    names += people
    result = []
    for n, local in enumerate(names[:count]):
        quota = default_quota
        if rng.random() < 0.12:
            quota = rng.choice([0, 5 * GB, 10 * GB, 512 * MB])
        used = _usage(rng, quota, n)
        result.append(
            SampleMailbox(f"{local}@{domain}", quota, used, round(rng.uniform(0.0, 0.6), 3))
        )
    _special_cases(result, domain, default_quota, nearly_full)
    return tuple(result)


def _system_accounts(domain: str, galsync: bool, spam: bool) -> tuple[SampleSystemAccount, ...]:
    """What a real Zimbra keeps in a domain: a GAL sync account (with a quota, like the nucleus-be
    capture's 500 MB) and the installer's spam/ham/virus-quarantine accounts (quota 0, unlimited),
    some of them used."""
    both = (("zimbraIsSystemResource", "TRUE"), ("zimbraIsSystemAccount", "TRUE"))
    hidden = (("zimbraHideInGal", "TRUE"),)
    accounts = []
    if galsync:
        accounts.append(SampleSystemAccount(f"galsync@{domain}", 500 * MB, 38 * MB, both + hidden))
    if spam:
        unlimited = (("zimbraMailQuota", "0"),) + hidden
        accounts += [
            SampleSystemAccount(f"spam.q7w2hk3mz@{domain}", 0, 212 * MB, both + unlimited),
            SampleSystemAccount(f"ham.x4n8cd1pr@{domain}", 0, 9 * MB, both + unlimited),
            SampleSystemAccount(
                f"virus-quarantine.b5t0ve9_ls@{domain}",
                0,
                3 * MB,
                (("zimbraIsSystemAccount", "TRUE"),) + unlimited,
            ),
        ]
    return tuple(accounts)


def _usage(rng: random.Random, quota: int, n: int) -> int:
    """A plausible mailbox size: some empty, most a few hundred MB, a few large."""
    roll = rng.random()
    if roll < 0.07:
        return 0
    if roll < 0.15:
        return rng.randint(1, 900) * 1024  # a few KB: a fresh mailbox
    cap = quota if quota else 8 * GB
    share = rng.betavariate(1.2, 6.0) if n else rng.uniform(0.3, 0.6)
    return int(cap * share)


def _special_cases(
    mailboxes: list[SampleMailbox], domain: str, default_quota: int, nearly_full: bool
) -> None:
    """Make sure the interesting cases show: a nearly full mailbox, a large unlimited archive, an
    empty mailbox."""
    if len(mailboxes) < 4:
        return
    quota = default_quota or 2 * GB
    if nearly_full:
        mailboxes[1] = SampleMailbox(mailboxes[1].name, quota, int(quota * 0.987), 0.08)
    archive = "archiwum" if domain.endswith(".pl") else "archive"
    if not any(m.local_part == archive for m in mailboxes):
        mailboxes[2] = SampleMailbox(f"{archive}@{domain}", 0, 23 * GB + 517 * MB, 0.05)
    mailboxes[3] = SampleMailbox(mailboxes[3].name, quota, 0, 0.0)


def _surname(first: str, last: str, polish: bool) -> str:
    """Polish feminine first names take the feminine surname form (Kowalski → Kowalska)."""
    if not polish:
        return last
    female = first.endswith("a")
    if female and last.endswith("ski"):
        return last[:-1] + "a"
    if not female and last.endswith("ska"):
        return last[:-1] + "i"
    return last


def _password(rng: random.Random) -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "".join(rng.choice(alphabet) for _ in range(16)) + "!7"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
