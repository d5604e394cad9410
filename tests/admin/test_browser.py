"""The demo's addon page in a real browser (headless Chromium, desktop width), in English and
Polish: the written ``addon.html`` / ``addon-pl.html`` and the live page of ``demo --serve``, where
"Sync now" posts the form with the admin's token, the page follows the job until it ends, and a
service link leads to the service.

:func:`addon_problems` reads everything wrong with a loaded page from the page itself (a missing
section, horizontal overflow, a request or reference leaving loopback), so the same check shows
that the demo's pages pass and that a doctored copy fails. Skipped only when no Chromium is
installed.
"""

import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from puq_bridge.demo.run import run_demo
from tests.clientarea.test_browser import (
    DESKTOP,
    _external,
    find_chromium,
    network_urls,
    set_width,
    start_browser,
)

SECTIONS = ("runs", "servers", "usage", "actions", "tools")
HEADINGS = {"en": "Sync runs", "pl": "Synchronizacje"}

_STATE_JS = """
const shown = (el) => !!el && el.getClientRects().length > 0;
return {
  lang: document.querySelector('[data-puq="addon"]')?.getAttribute('lang'),
  sections: Array.from(document.querySelectorAll('[data-puq="addon"] .puq-section'))
               .filter(shown).map(e => e.getAttribute('data-puq')),
  sidebar: shown(document.querySelector('[data-puq="addon-sidebar"]')),
  text: document.body.innerText,
  scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  urls: Array.from(document.querySelectorAll('[src], link[href]'))
             .map(e => e.getAttribute('src') || e.getAttribute('href')),
  anchors: Array.from(document.querySelectorAll('a[href], form[action]'))
             .map(e => e.getAttribute('href') || e.getAttribute('action')),
};
"""


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium binary installed")
    driver = start_browser(binary)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def demo():
    out = Path(tempfile.mkdtemp(prefix="puq-addon-browser-"))
    report, env = run_demo(out, serve=True, now=dt.datetime.now(dt.timezone.utc))
    yield report
    env.stop()
    shutil.rmtree(out, ignore_errors=True)


def addon_problems(driver, url: str, lang: str) -> list[str]:
    """Load ``url`` at desktop width; every problem of the addon page found there."""
    set_width(driver, DESKTOP)
    network_urls(driver)
    driver.get(url)
    state = driver.execute_script(_STATE_JS)
    problems = []
    if state["lang"] != lang:
        problems.append(f"page language {state['lang']!r}, expected {lang!r}")
    missing = [s for s in SECTIONS if s not in state["sections"]]
    if missing:
        problems.append(f"sections not shown: {missing}")
    if not state["sidebar"]:
        problems.append("no sidebar")
    if HEADINGS[lang] not in state["text"]:
        problems.append(f"no {HEADINGS[lang]!r} heading")
    if state["scrollWidth"] > state["innerWidth"] + 1:
        problems.append(f"overflows: {state['scrollWidth']} > {state['innerWidth']} px")
    leaving = [u for u in network_urls(driver) + state["urls"] if u and _external(u)]
    leaving += [u for u in state["anchors"] if u and _external(u, anchor=True)]
    if leaving:
        problems.append(f"leaves loopback: {leaving[:3]}")
    return problems


def wait_for(driver, text: str, timeout: float = 10.0) -> None:
    """Wait until the page's source holds ``text`` (a navigation may be under way)."""
    deadline = time.monotonic() + timeout
    while text not in driver.page_source:
        assert time.monotonic() < deadline, f"{text!r} never shown"
        time.sleep(0.05)


@pytest.mark.parametrize("lang", ["en", "pl"])
def test_the_written_addon_page(browser, demo, lang):
    name = "addon.html" if lang == "en" else "addon-pl.html"
    assert name in [p.name for p in demo.addon_pages]
    assert addon_problems(browser, f"{demo.urls['pages']}/{name}", lang) == []


@pytest.mark.parametrize("lang", ["en", "pl"])
def test_the_live_addon_page(browser, demo, lang):
    url = f"{demo.urls['pages']}/{lang}/addonmodules.php?module=puqbridge"
    assert addon_problems(browser, url, lang) == []


def test_a_doctored_page_fails_the_check(browser, demo):
    original = next(p for p in demo.addon_pages if p.name == "addon.html").read_text()
    doctored = original.replace('data-puq="usage"', 'data-puq="gone"', 1).replace(
        "</body>",
        '<img src="https://cdn.example.net/x.png"><div style="width:3000px">x</div></body>',
    )
    (demo.out_dir / "doctored.html").write_text(doctored)
    problems = addon_problems(browser, f"{demo.urls['pages']}/doctored.html", "en")
    assert any("sections not shown: ['usage']" in p for p in problems)
    assert any(p.startswith("overflows") for p in problems)
    assert any("cdn.example.net" in p for p in problems)


def test_sync_now_in_the_browser_runs_and_the_page_follows_it(browser, demo):
    from selenium.webdriver.common.by import By

    url = f"{demo.urls['pages']}/en/addonmodules.php?module=puqbridge"
    set_width(browser, DESKTOP)
    browser.get(url)
    newest = browser.find_element(By.CSS_SELECTOR, "tr[data-puq-run]").get_attribute("data-puq-run")
    browser.find_element(By.CSS_SELECTOR, '#puq-tools button[data-puq-action="sync"]').click()
    wait_for(browser, "Sync of all servers started")  # the answer to the POST
    assert browser.current_url.endswith("addonmodules.php?module=puqbridge")  # no re-POST
    deadline = time.monotonic() + 30
    while browser.find_elements(By.CSS_SELECTOR, '[data-puq-busy="1"]'):
        assert time.monotonic() < deadline, "the page kept showing the job as running"
        time.sleep(0.3)  # the page reloads itself every 2 s while the job runs
    row = browser.find_element(By.CSS_SELECTOR, "tr[data-puq-run]")
    assert int(row.get_attribute("data-puq-run")) > int(newest) and "Sync now" in row.text
    assert 'data-puq-state="done"' in browser.page_source
    link = browser.find_element(By.CSS_SELECTOR, "#puq-nearest a[data-puq-service]")
    service = link.get_attribute("data-puq-service")
    link.click()
    assert browser.current_url.endswith(f"/service-{service}-en.html")
