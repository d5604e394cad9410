"""The demo's pages in a real browser: headless Chromium driven by Selenium, at desktop and phone widths.

:func:`check_page` loads one page at one width and reports, from the page itself, everything wrong with it: tabs that
do not switch, a mailbox table with the wrong number of rows, a missing or empty usage chart, horizontal overflow,
and any request or reference that leaves loopback. It returns a list of problems, so the same function shows that the
demo's pages pass and that doctored copies of them (tab, table or chart removed...) fail.

One browser session and one demo run serve the whole module. Screenshots go to a temporary folder; their paths are
printed (``pytest -s`` shows them). Skipped only when no Chromium binary is installed.
"""

import datetime as dt
import json
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from puq_bridge.demo.pages import page_name, serve_pages
from puq_bridge.demo.run import LANGS, run_demo
from puq_bridge.demo.sample import build_sample

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
#: Hosts an anchor may name: the reserved documentation domains (RFC 2606) the sample's servers live under.
RESERVED_SUFFIXES = (
    ".example.com",
    ".example.net",
    ".example.org",
    "example.com",
    "example.net",
    "example.org",
)

CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    # Nothing may leave loopback: any other host fails to resolve (and still shows in the network log).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]

PHONE, DESKTOP = 375, 1280


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def start_browser(binary: str, profile_dir: str | None = None):
    """A Selenium Chrome driver on the system chromedriver (never downloads one), with the network log on."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir or tempfile.mkdtemp(prefix='puq-chrome-')}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(15)
    return driver


def set_width(driver, width: int) -> None:
    """Emulate a viewport ``width`` CSS pixels wide (a phone is a mobile device with touch)."""
    mobile = width < 600
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": width,
            "height": 800 if mobile else 900,
            "deviceScaleFactor": 2 if mobile else 1,
            "mobile": mobile,
        },
    )


_STATE_JS = """
const q = (s) => document.querySelector(s);
const shown = (el) => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
const pane = (name) => q(`[data-puq-tab="${name}"]:not(a)`);
const svg = q('svg[data-puq="usage-chart"]');
let drawn = 0, box = null;
if (svg) {
  for (const el of svg.querySelectorAll('path, polyline, polygon')) {
    const d = el.getAttribute('d') || el.getAttribute('points') || '';
    const pts = (d.match(/-?\\d+(\\.\\d+)?/g) || []).length;
    if (pts >= 4) drawn += 1;
  }
  const r = svg.getBoundingClientRect();
  box = [r.width, r.height];
}
return {
  serverInfoPane: shown(pane('server-info')), resourcePane: shown(pane('resource-usage')),
  hasServerInfoPane: !!pane('server-info'), hasResourcePane: !!pane('resource-usage'),
  table: !!q('[data-puq="mailbox-table"]'),
  rows: document.querySelectorAll('[data-puq="mailbox-table"] tr[data-puq="mailbox-row"]').length,
  chart: !!svg, chartShapes: drawn, chartBox: box,
  scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  resources: performance.getEntriesByType('resource').map(e => e.name)
             .concat(performance.getEntriesByType('navigation').map(e => e.name)),
  urls: Array.from(document.querySelectorAll('[src], link[href], [srcset], [poster], [data]'))
             .map(e => e.getAttribute('src') || e.getAttribute('href') || e.getAttribute('srcset')
                       || e.getAttribute('poster') || e.getAttribute('data')),
  anchors: Array.from(document.querySelectorAll('a[href], area[href], form[action]'))
             .map(e => e.getAttribute('href') || e.getAttribute('action')),
  cssText: Array.from(document.querySelectorAll('style')).map(s => s.textContent).join('\\n')
           + Array.from(document.querySelectorAll('[style]')).map(e => e.getAttribute('style')).join('\\n'),
};
"""


def page_state(driver) -> dict:
    """What the page currently shows, read from the DOM."""
    return driver.execute_script(_STATE_JS)


def _host(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("", "data", "about", "blob", "javascript") and not url.startswith("//"):
        return None
    return (parts.hostname or "").lower()


def _external(url: str, *, anchor: bool = False) -> bool:
    host = _host(url.strip())
    if host is None or host in LOOPBACK_HOSTS:
        return False
    return not (anchor and host.endswith(RESERVED_SUFFIXES))


def network_urls(driver) -> list[str]:
    """Every URL Chromium sent a request for since the log was last read (from the DevTools network log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _click_tab(driver, name: str) -> str | None:
    from selenium.webdriver.common.by import By

    links = driver.find_elements(By.CSS_SELECTOR, f'a[data-puq-tab="{name}"]')
    if not links:
        return f"no tab link for {name}"
    links[0].click()
    return None


def _tab_problems(state: dict, active: str) -> list[str]:
    want = {"server-info": state["serverInfoPane"], "resource-usage": state["resourcePane"]}
    problems = []
    for name, visible in want.items():
        if name == active and not visible:
            problems.append(f"after clicking {active}: pane {name} is not visible")
        if name != active and visible:
            problems.append(f"after clicking {active}: pane {name} is still visible")
    return problems


def check_page(
    driver, url: str, *, width: int, expected_rows: int, screenshot_dir: Path | None = None
) -> list[str]:
    """Load ``url`` at ``width`` and return every problem found (empty list: the page is fine)."""
    set_width(driver, width)
    network_urls(driver)  # drop what earlier pages logged
    driver.get(url)
    problems: list[str] = []
    state = page_state(driver)
    if not (state["hasServerInfoPane"] and state["hasResourcePane"]):
        problems.append(
            "tab pane missing: server-info={hasServerInfoPane} resource-usage={hasResourcePane}".format(
                **state
            )
        )
    for tab in ("resource-usage", "server-info"):
        problem = _click_tab(driver, tab)
        if problem:
            problems.append(problem)
            continue
        state = page_state(driver)
        problems += _tab_problems(state, tab)
        problems += _layout_problems(state, width)
        if tab == "resource-usage":
            problems += _chart_problems(state)
            _screenshot(driver, screenshot_dir, url, width, tab, chart=state["chart"])
    _screenshot(driver, screenshot_dir, url, width, "server-info")
    problems += _table_problems(state, expected_rows)
    problems += _network_problems(state, network_urls(driver))
    return problems


def _chart_problems(state: dict) -> list[str]:
    if not state["chart"]:
        return ["usage chart svg missing"]
    problems = []
    if state["chartShapes"] < 1:
        problems.append("usage chart has no drawn path/polyline with points")
    if not state["chartBox"] or min(state["chartBox"]) <= 0:
        problems.append(f"usage chart has an empty bounding box {state['chartBox']}")
    return problems


def _table_problems(state: dict, expected_rows: int) -> list[str]:
    if not state["table"]:
        return ["mailbox table missing"]
    if state["rows"] != expected_rows:
        return [f"mailbox table has {state['rows']} rows, expected {expected_rows}"]
    return []


def _layout_problems(state: dict, width: int) -> list[str]:
    # A phone browser widens its layout viewport to fit content that is too wide, so either figure can show it.
    content = max(state["scrollWidth"], state["innerWidth"])
    if content > width:
        return [f"horizontal overflow at {width} px: the page is {content} px wide"]
    if state["innerWidth"] != width:
        return [
            f"viewport is {state['innerWidth']} px wide, not {width} (missing viewport meta tag?)"
        ]
    return []


def _network_problems(state: dict, requested: list[str]) -> list[str]:
    problems = [
        f"request left loopback: {u}" for u in requested + state["resources"] if _external(u)
    ]
    problems += [
        f"page references external resource: {u}" for u in state["urls"] if u and _external(u)
    ]
    problems += [
        f"link to a non-reserved external host: {u}"
        for u in state["anchors"]
        if u and _external(u, anchor=True)
    ]
    for token in ("url(http", "url('http", 'url("http', "@import"):
        if token in state["cssText"].replace(" ", ""):
            problems.append(f"stylesheet loads something from outside: {token}")
    return problems


def _screenshot(
    driver, folder: Path | None, url: str, width: int, tab: str, *, chart: bool = False
) -> None:
    """The viewport as PNG (and, below the fold as it usually is, the usage chart on its own)."""
    if folder is None:
        return
    from selenium.webdriver.common.by import By

    name = Path(urlsplit(url).path).stem or "index"
    path = folder / f"{name}-{width}px-{tab}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    if chart:
        path = folder / f"{name}-{width}px-chart.png"
        driver.find_element(By.CSS_SELECTOR, 'svg[data-puq="usage-chart"]').screenshot(str(path))
        print(f"screenshot: {path}")


# --- the tests -------------------------------------------------------------------------------------------------------

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary: apt-get install chromium chromium-driver"
)
NOW = dt.datetime(2026, 5, 20, 9, 30, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo's pages, served on loopback: (base URL, out dir, service id -> expected mailbox rows)."""
    out = tmp_path_factory.mktemp("demo") / "pages"
    report, _ = run_demo(out, now=NOW)
    sample = {s.domain: len(s.mailboxes) for s in build_sample(today=NOW.date()).services}
    server = serve_pages(out)
    yield server.url, out, {sid: sample[domain] for sid, domain in report.services.items()}
    server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = start_browser(CHROMIUM, str(tmp_path_factory.mktemp("chrome-profile")))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"screenshots in {folder}")
    return folder


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
@pytest.mark.parametrize("lang", LANGS)
def test_every_demo_page_works_in_the_browser(site, browser, shots, lang, width):
    base, _, rows = site
    problems = {}
    first = next(iter(rows))
    for sid, expected in rows.items():
        found = check_page(
            browser,
            f"{base}/{page_name(sid, lang)}",
            width=width,
            expected_rows=expected,
            screenshot_dir=shots if sid == first else None,
        )
        if found:
            problems[page_name(sid, lang)] = found
    assert problems == {}


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_index_links_every_page_and_fits_the_screen(site, browser, shots, width):
    base, _, rows = site
    set_width(browser, width)
    network_urls(browser)
    browser.get(f"{base}/index.html")
    state = page_state(browser)
    assert _layout_problems(state, width) == []
    assert _network_problems(state, network_urls(browser)) == []
    expected = {f"{page_name(sid, lang)}" for sid in rows for lang in LANGS}
    expected |= {"addon.html", "addon-pl.html", "en/addonmodules.php?module=puqbridge"}
    assert set(state["anchors"]) == expected
    _screenshot(browser, shots, f"{base}/index.html", width, "index")


DOCTORS = {
    "tab link removed": (
        r'<a[^>]*data-puq-tab="resource-usage"[^>]*>.*?</a>',
        "",
        "no tab link for resource-usage",
    ),
    "tab script removed": (r"<script\b.*?</script>", "", "pane resource-usage is not visible"),
    "table removed": (
        r'<table[^>]*data-puq="mailbox-table".*?</table>',
        "",
        "mailbox table missing",
    ),
    "row removed": (r'<tr data-puq="mailbox-row">.*?</tr>', "", "mailbox table has"),
    "chart removed": (r'<svg[^>]*data-puq="usage-chart".*?</svg>', "", "usage chart svg missing"),
    "chart emptied": (r"<(path|polyline)\b[^>]*/>", "", "no drawn path/polyline"),
    "external image": (
        r"</body>",
        '<img src="https://cdn.example.org/logo.png" alt=""></body>',
        "request left loopback: https://cdn.example.org/logo.png",
    ),
    "too wide": (r"</body>", '<div style="width:1400px">wide</div></body>', "horizontal overflow"),
}


@pytest.mark.parametrize("case", list(DOCTORS))
def test_check_page_reports_a_doctored_page(site, browser, case):
    base, out, rows = site
    sid = next(iter(rows))
    pattern, replacement, message = DOCTORS[case]
    original = (out / page_name(sid, "en")).read_text(encoding="utf-8")
    count = 1 if case == "row removed" else 0
    doctored, n = re.subn(pattern, replacement, original, count=count, flags=re.S)
    assert n >= 1, f"the doctor's pattern for {case!r} no longer matches the page"
    name = "doctored-" + case.replace(" ", "-") + ".html"
    (out / name).write_text(doctored, encoding="utf-8")
    width = PHONE if case == "too wide" else DESKTOP
    problems = check_page(browser, f"{base}/{name}", width=width, expected_rows=rows[sid])
    assert any(message in p for p in problems), problems
