"""The sample data set behind ``puq-bridge demo``: realistic, varied and deterministic."""

import datetime as dt

import pytest

from puq_bridge.demo.sample import HISTORY_DAYS, build_sample
from puq_bridge.units import GB

TODAY = dt.date(2026, 5, 20)


@pytest.fixture(scope="module")
def sample():
    return build_sample(today=TODAY)


def test_same_arguments_give_the_same_data(sample):
    assert build_sample(today=TODAY) == sample
    assert build_sample(today=TODAY, seed=7) != sample


def test_a_few_hundred_mailboxes_on_two_servers(sample):
    assert 200 <= sample.mailbox_count <= 600
    assert {s.server.key for s in sample.services} == {"mail1", "mail2"}
    assert all(sample.services_on(server) for server in sample.servers)


def test_one_domain_has_as_many_mailboxes_as_its_product_allows(sample):
    """The client area's filter and paging need a long table: 250 rows, the product's maximum."""
    big = max(sample.services, key=lambda s: len(s.mailboxes))
    assert len(big.mailboxes) == 250 == big.product.max_mailboxes
    assert all(
        len(s.mailboxes) <= s.product.max_mailboxes or not s.product.max_mailboxes
        for s in sample.services
    )


def test_polish_and_english_clients(sample):
    assert {c.language for c in sample.clients} == {"polish", "english"}
    assert any(
        "ż" in c.firstname + c.lastname + c.companyname or "ł" in c.companyname
        for c in sample.clients
    )


def test_mailbox_names_are_unique_and_start_with_the_primary(sample):
    names = [m.name for s in sample.services for m in s.mailboxes]
    assert len(names) == len(set(names))
    for service in sample.services:
        assert service.mailboxes[0].name == service.primary
        assert all(m.name.endswith("@" + service.domain) for m in service.mailboxes)


def test_usage_is_varied(sample):
    boxes = [m for s in sample.services for m in s.mailboxes]
    assert any(m.quota_bytes == 0 and m.used_bytes > 10 * GB for m in boxes), (
        "a large unlimited mailbox"
    )
    nearly_full = [m for m in boxes if m.quota_bytes and 0.95 <= m.used_bytes / m.quota_bytes < 1]
    assert 1 <= len(nearly_full) <= 3
    assert any(m.used_bytes == 0 for m in boxes)
    assert all(m.quota_bytes == 0 or m.used_bytes <= m.quota_bytes for m in boxes)


def test_usage_grows_towards_today(sample):
    box = max((m for s in sample.services for m in s.mailboxes), key=lambda m: m.growth)
    series = [box.used_on(days) for days in range(HISTORY_DAYS, -1, -1)]
    assert series == sorted(series)
    assert series[-1] == box.used_bytes and series[0] < box.used_bytes
    assert box.used_on(HISTORY_DAYS + 100) == series[0]


def test_one_service_is_to_be_suspended_and_dates_follow_today(sample):
    assert [s.key for s in sample.services if s.suspend] == ["brightwave-old"]
    for service in sample.services:
        assert service.regdate < TODAY < service.next_due_date


def test_products_carry_the_six_module_settings(sample):
    settings = sample.products[0].module_settings()
    assert settings.quota_mb == sample.products[0].default_quota_mb
    assert settings.suspension_policy in {"locked", "maintenance", "closed"}
    assert settings.tenancy in {"domain", "server"}


def test_passwords_are_not_in_the_repr(sample):
    service = sample.services[0]
    assert service.password not in repr(service) and service.password not in repr(sample)


def test_some_domains_hold_zimbras_own_accounts(sample):
    system = {s.key: s.system_accounts for s in sample.services if s.system_accounts}
    assert sorted(system) == ["harbour", "nowak"]
    nowak = [a.name.split("@")[0].split(".")[0] for a in system["nowak"]]
    assert nowak == ["galsync", "spam", "ham", "virus-quarantine"]
    for service in sample.services:
        for account in service.system_accounts:
            flags = dict(account.attrs)
            assert account.name.endswith("@" + service.domain)
            assert "TRUE" in (
                flags.get("zimbraIsSystemAccount"),
                flags.get("zimbraIsSystemResource"),
            )
            assert account.name not in {m.name for m in service.mailboxes}
