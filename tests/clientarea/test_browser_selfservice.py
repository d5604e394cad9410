"""Mailbox self-service in a real browser (headless Chromium), on ``demo --serve`` pages, in both
languages at desktop and phone width: a mailbox created with the keyboard from the "New mailbox"
form appears in the table; its row's Actions button opens the panel for it and the mailbox goes
once its address is typed again. Nothing leaves the tab's width on the way."""

import datetime as dt

import pytest

from puq_bridge.demo.pages import page_name
from puq_bridge.demo.run import run_demo
from tests.clientarea.test_browser import (
    CHROMIUM,
    DESKTOP,
    PHONE,
    browser,  # noqa: F401 (fixture)
    set_width,
)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary")
NOW = dt.datetime(2026, 5, 20, 9, 30, tzinfo=dt.timezone.utc)
PASSWORD = "Przegladarka-1"
#: page language -> (service key, the WHMCS box after success in the client's own language)
SERVICES = {
    "pl": ("piekarnia", "Operacja zakończona pomyślnie."),
    "en": ("brightwave", "Action completed successfully."),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    out = tmp_path_factory.mktemp("served") / "pages"
    report, env = run_demo(out, serve=True, now=NOW)
    yield report, env
    env.stop()


def _wait_for_result(driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '[data-puq="action-result"]')
    )
    return driver.find_element(By.CSS_SELECTOR, '[data-puq="action-result"]').text


def _overflow(driver) -> int:
    return driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")


def _show_row(driver, address: str):
    """The row of ``address``, shown (through the table's filter when the table is paged)."""
    from selenium.webdriver.common.by import By

    tools = driver.find_elements(By.CSS_SELECTOR, '[data-puq="filter"]')
    if tools and tools[0].is_displayed():
        tools[0].clear()
        tools[0].send_keys(address.split("@")[0])
    cell = driver.find_element(By.CSS_SELECTOR, f'td[data-value="{address}"]')
    return cell.find_element(By.XPATH, "..")


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
@pytest.mark.parametrize("lang", ["pl", "en"])
def test_create_then_delete_a_mailbox_in_the_browser(served, browser, lang, width):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    report, env = served
    key, done = SERVICES[lang]
    sid = next(sid for sid, s in env.by_service_id.items() if s.key == key)
    domain = env.by_service_id[sid].domain
    address = f"test-{lang}-{width}@{domain}"
    set_width(browser, width)
    browser.get(f"{report.urls['pages']}/{page_name(sid, lang)}")

    # "New mailbox" opens from the keyboard; the form is filled by typing and sent with Enter
    summary = browser.find_element(By.CSS_SELECTOR, '[data-puq="new-mailbox"] > summary')
    browser.execute_script("arguments[0].focus()", summary)
    summary.send_keys(Keys.ENTER)
    form = browser.find_element(By.CSS_SELECTOR, '[data-puq="create-form"]')
    assert form.is_displayed()
    assert _overflow(browser) <= 0, "the open form is wider than the screen"
    form.find_element(By.NAME, "local_part").send_keys(address.split("@")[0])
    form.find_element(By.NAME, "display_name").send_keys('<b onclick="x()">Test</b>')
    form.find_element(By.NAME, "password").send_keys(PASSWORD)
    form.find_element(By.NAME, "password2").send_keys(PASSWORD)
    form.find_element(By.NAME, "quota_mb").send_keys("100", Keys.ENTER)
    assert _wait_for_result(browser) == done
    assert "<b onclick" not in browser.page_source
    row = _show_row(browser, address)
    assert row.is_displayed()

    # the row's Actions: the panel for that mailbox; deleting asks for the address again
    row.find_element(By.CSS_SELECTOR, '[data-puq="manage"]').click()
    panel = browser.find_element(By.CSS_SELECTOR, '[data-puq="manage-panel"]')
    assert address in panel.find_element(By.CSS_SELECTOR, '[data-puq="manage-title"]').text
    delete = panel.find_element(By.CSS_SELECTOR, '[data-puq="action-delete"]')
    delete.find_element(By.TAG_NAME, "summary").click()
    assert delete.find_element(By.NAME, "mailbox").get_attribute("value") == address
    assert address in delete.find_element(By.CSS_SELECTOR, '[data-puq="delete-hint"]').text
    assert _overflow(browser) <= 0, "the open panel is wider than the screen"
    delete.find_element(By.NAME, "confirm").send_keys(address, Keys.ENTER)
    assert _wait_for_result(browser) == done
    assert not browser.find_elements(By.CSS_SELECTOR, f'td[data-value="{address}"]')
    zimbra = env.zimbra_sims[env.by_service_id[sid].server.key]
    assert address not in zimbra.accounts
