"""The demo's pages in a real browser: headless Chromium driven by Selenium, at desktop and phone
widths.

:func:`check_page` loads one page at one width and reports, from the page itself, everything wrong
with it: tabs that do not switch, a mailbox table with the wrong number of rows, a missing or empty
usage chart, horizontal overflow, and any request or reference that leaves loopback. It returns a
list of problems, so the same function shows that the demo's pages pass and that doctored copies of
them (tab, table or chart removed...) fail.

One browser session and one demo run serve the whole module. Screenshots go to a temporary folder;
their paths are printed (``pytest -s`` shows them). Skipped only when no Chromium binary is
installed.

:func:`check_long_table` is issue 12's acceptance check, on the demo's 250-mailbox domain at 320
and 375 px in both languages: no cell clips or leaves the tab, host names wrap only between their
parts, the mailbox table's filter, pages, sticky header and "showing 1–25 of 250" work (and the
table reads whole without JavaScript), and the usage tab starts with its chart, full width, labels
at least 11 px, under a heading that names the period drawn.
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
from puq_bridge.demo.run import LANGS, SYNC_DAYS, run_demo
from puq_bridge.demo.sample import build_sample

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
#: Hosts an anchor may name: the reserved documentation domains (RFC 2606) the sample's servers live
#: under.
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
    # Nothing may leave loopback: any other host fails to resolve (and still shows in the network
    # log).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]

PHONE, DESKTOP = 375, 1280
#: The narrowest phone the tabs must fit (issue 12): nothing may clip or overflow at this width.
NARROW = 320
#: The smallest readable chart label, in CSS px, at any width.
MIN_LABEL_PX = 11


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def start_browser(binary: str, profile_dir: str | None = None):
    """A Selenium Chrome driver on the system chromedriver (never downloads one), with the network
    log on."""
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
const shown = (el) => !!el && el.getClientRects().length > 0
                      && getComputedStyle(el).visibility !== 'hidden';
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
           + Array.from(document.querySelectorAll('[style]'))
               .map(e => e.getAttribute('style')).join('\\n'),
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
    """Every URL Chromium sent a request for since the log was last read (from the DevTools network
    log)."""
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
            "tab pane missing: server-info={hasServerInfoPane} "
            "resource-usage={hasResourcePane}".format(**state)
        )
    for tab in ("resource-usage", "server-info"):
        problem = _click_tab(driver, tab)
        if problem:
            problems.append(problem)
            continue
        state = page_state(driver)
        problems += _tab_problems(state, tab)
        problems += _layout_problems(state, width)
        problems += [f"{tab} at {width} px: {p}" for p in driver.execute_script(_CLIP_JS)]
        if tab == "resource-usage":
            problems += _chart_problems(state)
            _screenshot(driver, screenshot_dir, url, width, tab, chart=state["chart"])
    _screenshot(driver, screenshot_dir, url, width, "server-info")
    problems += _table_problems(state, expected_rows)
    problems += _network_problems(state, network_urls(driver))
    return problems


_CLIP_JS = """
const root = document.querySelector('[data-puq="client-area"]');
if (!root) return ['no client area'];
const box = root.getBoundingClientRect();
const name = (el) => (el.getAttribute('data-puq') || el.tagName.toLowerCase())
  + ' "' + el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40) + '"';
const shown = (el) => el.getClientRects().length > 0;
const problems = [];
for (const el of root.querySelectorAll('th, td')) {
  if (!shown(el)) continue;
  const r = el.getBoundingClientRect();
  const [left, right] = [Math.round(r.left), Math.round(r.right)];
  if (el.scrollWidth > el.clientWidth + 1) {
    problems.push(`cell ${name(el)} clips: ${el.scrollWidth} px of content in ${el.clientWidth}`);
  } else if (r.right > box.right + 1 || r.left < box.left - 1) {
    problems.push(`cell ${name(el)} leaves the tab: ${left}-${right} px, `
                  + `the tab is ${Math.round(box.left)}-${Math.round(box.right)} px`);
  }
}
for (const el of root.querySelectorAll('*')) {
  if (!shown(el) || el.closest('svg') || el.matches('input, select, option, style, script')) {
    continue;
  }
  const overflow = getComputedStyle(el).overflowX, extra = el.scrollWidth - el.clientWidth;
  if (overflow !== 'visible' && extra > 1) {
    problems.push(`${name(el)} hides or scrolls ${extra} px (overflow-x: ${overflow})`);
  }
}
return problems;
"""

#: Host names, addresses and links may wrap only before . @ : / (where breakable() puts <wbr>),
#: at a space, or after a hyphen; never inside a word (``mail1.example.c|om``).
_MIDWORD_JS = """
const root = document.querySelector('[data-puq="client-area"]');
const problems = [];
const cells = root.querySelectorAll('[data-puq="facts"] td, [data-puq="mailbox-domain"], '
                                    + '[data-puq="mailbox-row"] td:first-child');
for (const el of cells) {
  if (!el.getClientRects().length) continue;
  const chars = [];
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (rect) chars.push([node.data[i], rect.top]);
    }
  }
  for (let i = 1; i < chars.length; i++) {
    if (chars[i][1] <= chars[i - 1][1] + 2) continue;
    const before = chars[i - 1][0], after = chars[i][0];
    if ('.@:/'.includes(after) || /\\s/.test(before + after) || before === '-') continue;
    problems.push(`"${el.textContent.trim()}" breaks inside a word: ${before}|${after}`);
  }
}
return problems;
"""


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
    # A phone browser widens its layout viewport to fit content that is too wide, so either figure
    # can show it.
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


# --- the tests ------------------------------------------------------------------------------------

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary: apt-get install chromium chromium-driver"
)
NOW = dt.datetime(2026, 5, 20, 9, 30, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo's pages, served on loopback: (base URL, out dir, service id -> expected mailbox
    rows)."""
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


@pytest.mark.parametrize("width", [DESKTOP, PHONE, NARROW])
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


# --- issue 12: the 250-mailbox domain on a phone --------------------------------------------------

_TABLE_JS = """
const list = document.querySelector('[data-puq="mailbox-list"]') || document;
const rows = Array.from(document.querySelectorAll('[data-puq="mailbox-row"]'));
const part = (name) => list.querySelector(`[data-puq="${name}"]`);
const shown = (el) => !!el && el.getClientRects().length > 0;
const table = document.querySelector('[data-puq="mailbox-table"]');
return {
  rows: rows.length,
  visible: rows.filter(shown)
    .map(r => r.cells[0].getAttribute('data-value') || r.cells[0].textContent),
  filter: shown(part('filter')), pageSize: shown(part('page-size')),
  previous: shown(part('previous')), next: shown(part('next')),
  showing: shown(part('showing')) ? part('showing').textContent.trim() : null,
  tableText: table ? table.textContent : '',
};
"""

_STICKY_JS = """
const rows = Array.from(document.querySelectorAll('[data-puq="mailbox-row"]'))
  .filter(r => r.getClientRects().length);
const row = rows[Math.floor(rows.length / 2)];
row.scrollIntoView({block: 'center'});
const head = document.querySelector('[data-puq="mailbox-table"] thead').getBoundingClientRect();
return {top: head.top, bottom: head.bottom, height: window.innerHeight, rows: rows.length};
"""

_USAGE_JS = """
const pane = document.querySelector('div[data-puq-tab="resource-usage"]');
const svg = pane.querySelector('svg[data-puq="usage-chart"]');
const blocks = Array.from(pane.children).filter(el => !el.matches('.alert, style, script'));
const bars = pane.querySelector('[data-puq="mailbox-bars"]');
const heading = svg && svg.closest('figure') && svg.closest('figure').previousElementSibling;
const labels = svg ? Array.from(svg.querySelectorAll('text')).filter(t => t.getClientRects().length)
  : [];
const after = (a, b) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
return {
  chart: !!svg,
  chartFirst: !!svg && blocks.length > 0 && (blocks[0] === svg || blocks[0].contains(svg)),
  chartBeforeBars: !bars || (!!svg && after(svg, bars)),
  chartWidth: svg ? svg.getBoundingClientRect().width : 0,
  paneWidth: pane.clientWidth,
  // a label's size on screen: its font size times the scale of its SVG's viewBox, if any
  labels: labels.map(t => [t.textContent,
                           parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a]),
  heading: heading ? heading.textContent.trim() : '',
};
"""


def _select_page_size(driver, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.CSS_SELECTOR, '[data-puq="page-size"]')).select_by_value(value)


def _type_filter(driver, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, '[data-puq="filter"]')
    box.clear()
    if text:
        box.send_keys(text)
    else:  # clear() fires no input event
        driver.execute_script("arguments[0].dispatchEvent(new Event('input'))", box)


def _click(driver, hook: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f'[data-puq="{hook}"]').click()


def check_long_table(
    driver, url: str, *, width: int, lang: str, names: list[str], domain: str
) -> list[str]:
    """Issue 12's acceptance check of one page at ``width``: every problem found, as text.

    ``names`` are the domain's mailboxes in the order the tab starts with (most used first).
    """
    from puq_bridge.clientarea.render import Renderer

    fmt = Renderer().catalog(lang)
    set_width(driver, width)
    driver.get(url)
    problems = [f"server-info: {p}" for p in driver.execute_script(_CLIP_JS)]
    problems += [f"server-info: {p}" for p in driver.execute_script(_MIDWORD_JS)]
    problems += _paging_problems(driver, fmt, names, domain)
    problems += _no_script_problems(driver, url, len(names))
    driver.get(url)
    problem = _click_tab(driver, "resource-usage")
    if problem:
        return problems + [problem]
    problems += [f"resource-usage: {p}" for p in driver.execute_script(_CLIP_JS)]
    problems += _usage_problems(driver.execute_script(_USAGE_JS), fmt)
    return problems


def _paging_problems(driver, fmt, names: list[str], domain: str) -> list[str]:
    state = driver.execute_script(_TABLE_JS)
    if state["rows"] != len(names):
        return [f"the table has {state['rows']} rows, expected {len(names)}"]
    missing = [k for k in ("filter", "pageSize", "previous", "next", "showing") if not state[k]]
    if missing:
        return [f"mailbox table controls missing: {', '.join(missing)}"]
    problems = []
    if state["tableText"].count("@" + domain) != 1:
        problems.append(
            f"@{domain} is written {state['tableText'].count('@' + domain)} times in the table"
        )

    def expect(what: str, visible: list[str], showing: str) -> None:
        now = driver.execute_script(_TABLE_JS)
        if now["visible"] != visible:
            problems.append(
                f"{what}: {len(now['visible'])} rows shown ({now['visible'][:3]}...), "
                f"expected {len(visible)} ({visible[:3]}...)"
            )
        if now["showing"] != showing:
            problems.append(f"{what}: says {now['showing']!r}, expected {showing!r}")

    def says(first, last, count, total=None, key="mailboxes.showing_filtered"):
        number = lambda n: fmt.number(n, 0)  # noqa: E731
        if total is None:
            key = "mailboxes.showing"
        return fmt.text(
            key,
            first=number(first),
            last=number(last),
            count=number(count),
            total=number(total or count),
        )

    total = len(names)
    expect("at first", names[:25], says(1, 25, total))
    _click(driver, "next")
    expect("next page", names[25:50], says(26, 50, total))
    _select_page_size(driver, "50")
    expect("50 per page", names[:50], says(1, 50, total))
    _select_page_size(driver, "100")
    _click(driver, "next")
    expect("100 per page, page 2", names[100:200], says(101, 200, total))
    _click(driver, "previous")
    expect("back to page 1", names[:100], says(1, 100, total))
    query = "kowal"
    matched = [n for n in names if query in n.lower()]
    _type_filter(driver, query)
    expect(f"filter {query!r}", matched[:100], says(1, min(100, len(matched)), len(matched), total))
    _type_filter(driver, "no-such-mailbox")
    expect("filter matching nothing", [], fmt.text("mailboxes.no_match", query="no-such-mailbox"))
    _type_filter(driver, "")
    _select_page_size(driver, "0")
    expect("all", names, says(1, total, total))
    head = driver.execute_script(_STICKY_JS)
    if not (-1 <= head["top"] <= 1 and head["bottom"] < head["height"]):
        problems.append(f"the table's header scrolled away: its top is at {head['top']:.0f} px")
    return problems


def _no_script_problems(driver, url: str, rows: int) -> list[str]:
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        driver.get(url)
        from selenium.webdriver.common.by import By

        shown = [
            r
            for r in driver.find_elements(By.CSS_SELECTOR, '[data-puq="mailbox-row"]')
            if r.is_displayed()
        ]
        controls = [
            e
            for e in driver.find_elements(By.CSS_SELECTOR, '[data-puq="table-tools"]')
            if e.is_displayed()
        ]
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    problems = []
    if len(shown) != rows:
        problems.append(f"without JavaScript {len(shown)} of {rows} rows read")
    if controls:
        problems.append("without JavaScript the table's controls show, though nothing runs them")
    return problems


def _usage_problems(state: dict, fmt) -> list[str]:
    if not state["chart"]:
        return ["resource-usage: no chart"]
    problems = []
    if not state["chartFirst"]:
        problems.append("resource-usage: the chart is not the tab's first block")
    if not state["chartBeforeBars"]:
        problems.append("resource-usage: the per-mailbox bars come before the chart")
    if state["chartWidth"] < 0.95 * state["paneWidth"]:
        problems.append(
            f"resource-usage: the chart is {state['chartWidth']:.0f} px wide in a "
            f"{state['paneWidth']} px tab"
        )
    small = [(text, round(px, 1)) for text, px in state["labels"] if px < MIN_LABEL_PX]
    if small or not state["labels"]:
        problems.append(
            f"resource-usage: chart labels under {MIN_LABEL_PX} px: {small or 'no labels'}"
        )
    first = NOW.date() - dt.timedelta(days=SYNC_DAYS[0])
    last = NOW.date() - dt.timedelta(days=SYNC_DAYS[-1])
    if fmt.date(first) not in state["heading"] or fmt.date(last) not in state["heading"]:
        problems.append(
            f"resource-usage: the chart's heading {state['heading']!r} does not name the period "
            f"drawn, {fmt.date(first)} to {fmt.date(last)}"
        )
    return problems


@pytest.fixture(scope="module")
def long_domain(site):
    """The demo's 250-mailbox service: (page URL of a language, names most used first, domain)."""
    base, _, rows = site
    sid = next(sid for sid, count in rows.items() if count >= 250)
    sample = build_sample(today=NOW.date())
    service = next(s for s in sample.services if len(s.mailboxes) == rows[sid])
    # The order the tab starts in: most used first, ties by name (the store has today's usage).
    boxes = sorted(service.mailboxes, key=lambda m: m.name)
    names = [m.name for m in sorted(boxes, key=lambda m: m.used_on(0), reverse=True)]
    return (lambda lang: f"{base}/{page_name(sid, lang)}"), names, service.domain


@pytest.mark.parametrize("width", [NARROW, PHONE])
@pytest.mark.parametrize("lang", LANGS)
def test_a_250_mailbox_domain_reads_on_a_phone(browser, long_domain, lang, width):
    url, names, domain = long_domain
    assert len(names) == 250
    assert (
        check_long_table(browser, url(lang), width=width, lang=lang, names=names, domain=domain)
        == []
    )


#: Damage done to a copy of the 250-mailbox page, and what check_long_table must say about each.
#: They are unrelated, so one doctored page carries them all (one browser pass instead of nine).
LONG_TABLE_DOCTORS = {
    "header not sticky": (r"position: sticky;", "", "the table's header scrolled away"),
    "controls shown without a script": (
        r'(data-puq="table-tools") hidden',
        r"\1",
        "without JavaScript the table's controls show",
    ),
    "next skips a page": (r"page \+= 1;", "page += 2;", "next page:"),
    "filter ignored": (r"name\.indexOf\(query\) !== -1", "true", "filter 'kowal':"),
    "host names unbreakable": (r"<wbr>", "", "breaks inside a word"),
    "mailbox table wider than the tab": (
        r'(<table class="[^"]*puq-mailboxes")',
        r'\1 style="min-width:400px"',
        "leaves the tab",
    ),
    "a cell cut short": (
        r'(data-puq="recurring-amount")',
        r'\1 style="max-width:30px;overflow:hidden"',
        'cell recurring-amount "49,00 zł" clips',
    ),
    "chart scaled down": (
        r'<svg data-puq="usage-chart" ',
        '<svg data-puq="usage-chart" viewBox="0 0 1600 220" ',
        "chart labels under 11 px",
    ),
    "chart after the bars": (
        r'(<section class="puq-history".*?</section>\n)(.*?</section>\n)'
        r'(<section class="puq-top".*?</section>\n)',
        r"\2\3\1",
        "the chart is not the tab's first block",
    ),
}


def test_check_long_table_reports_a_doctored_page(site, browser, long_domain):
    _, out, _ = site
    url, names, domain = long_domain
    page = url("pl")
    doctored = (out / page.rsplit("/", 1)[1]).read_text(encoding="utf-8")
    for case, (pattern, replacement, _) in LONG_TABLE_DOCTORS.items():
        doctored, n = re.subn(pattern, replacement, doctored, flags=re.S)
        assert n >= 1, f"the doctor's pattern for {case!r} no longer matches the page"
    (out / "doctored-long-table.html").write_text(doctored, encoding="utf-8")
    problems = check_long_table(
        browser,
        page.rsplit("/", 1)[0] + "/doctored-long-table.html",
        width=NARROW,
        lang="pl",
        names=names,
        domain=domain,
    )
    missed = [
        case
        for case, (_, _, message) in LONG_TABLE_DOCTORS.items()
        if not any(message in p for p in problems)
    ]
    assert missed == [], problems


# --- sign-on buttons of a served demo page ------------------------------------------------------


@pytest.fixture(scope="module")
def served_demo(tmp_path_factory):
    """``puq-bridge demo --serve``: its pages with sign-on buttons, answered through the adapter."""
    out = tmp_path_factory.mktemp("served") / "pages"
    report, env = run_demo(out, serve=True, now=NOW)
    sample = {s.domain: s for s in build_sample(today=NOW.date()).services}
    yield report, env, {sid: sample[domain] for sid, domain in report.services.items()}
    env.stop()


def _follow(driver, selector: str) -> dict:
    """Click the element and wait for the Zimbra page it leads to; what that page says."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.CSS_SELECTOR, selector).click()
    WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "main[data-zimbra], [data-puq='signon-error']")
    )
    found = driver.find_elements(By.CSS_SELECTOR, "main[data-zimbra]")
    if not found:
        return {"error": driver.find_element(By.CSS_SELECTOR, "[data-puq='signon-error']").text}
    main = found[0]
    return {
        "kind": main.get_attribute("data-zimbra"),
        "account": main.get_attribute("data-account"),
        "domains": main.get_attribute("data-domains"),
        "path": urlsplit(driver.current_url).path,
    }


def test_sign_on_buttons_of_a_served_page_lead_to_the_simulator(served_demo, browser, shots):
    report, env, samples = served_demo
    sid, sample = next((sid, s) for sid, s in samples.items() if s.key == "nowak")
    url = f"{report.urls['pages']}/{page_name(sid, 'pl')}"
    zimbra = report.urls[sample.server.key]
    problems = check_page(
        browser, url, width=PHONE, expected_rows=len(sample.mailboxes), screenshot_dir=shots
    )
    assert problems == []

    browser.get(url)
    webmail = _follow(browser, '[data-puq="webmail-signon"]')
    assert webmail == {
        "kind": "webmail",
        "account": sample.primary,
        "domains": "",
        "path": "/zimbra/mail",
    }
    assert browser.current_url.startswith(zimbra)

    browser.get(url)
    console = _follow(browser, '[data-puq="admin-signon"]')
    assert (console["kind"], console["account"], console["domains"], console["path"]) == (
        "admin-console",
        sample.primary,
        sample.domain,
        "/zimbraAdmin",
    )

    browser.get(url)
    other = next(m.name for m in sample.mailboxes if m.name != sample.primary)
    mailbox = _follow(browser, f'[data-puq="mailbox-signon"][value="{other}"]')
    assert (mailbox["kind"], mailbox["account"]) == ("webmail", other)
    _screenshot(browser, shots, url, DESKTOP, "signed-in")


def test_a_tampered_mailbox_form_is_refused_in_the_browser(served_demo, browser):
    report, _, samples = served_demo
    sid = next(sid for sid, s in samples.items() if s.key == "nowak")
    browser.get(f"{report.urls['pages']}/{page_name(sid, 'en')}")
    browser.execute_script(
        "document.querySelector('[data-puq=\"mailbox-signon\"]').value = 'someone@example.net'"
    )
    refused = _follow(browser, '[data-puq="mailbox-signon"]')
    # in the client's WHMCS language (Polish), whatever the page's
    foreign = "Ta skrzynka nie należy do tej usługi; nic nie zostało zrobione."
    assert refused == {"error": foreign}


def test_a_suspended_service_page_has_no_sign_on_buttons(served_demo, browser):
    report, _, samples = served_demo
    sid = next(sid for sid, s in samples.items() if s.key == "brightwave-old")
    browser.get(f"{report.urls['pages']}/{page_name(sid, 'en')}")
    assert "signon" not in " ".join(page_state(browser)["anchors"])
    assert browser.execute_script(
        "return document.querySelectorAll('[data-puq$=\"signon\"]').length"
    ) == 0
