"""The demo's stand-in of WHMCS's productdetails page (``demo --serve``): a mailbox created from a
served page appears on the page at once, a tampered form is refused, a mailbox goes with its
address typed again; through the real PHP forwarder when ``php`` is installed, else (and also,
with ``php=""``) straight to the adapter."""

import datetime as dt
import re
import shutil

import pytest
import requests

from puq_bridge.demo.pages import page_name
from puq_bridge.demo.productdetails import ProductDetailsDesk
from puq_bridge.demo.run import run_demo

NOW = dt.datetime(2026, 5, 20, 9, 30, tzinfo=dt.timezone.utc)
PASSWORD = "Demo-Haslo-1"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    out = tmp_path_factory.mktemp("served") / "pages"
    report, env = run_demo(out, serve=True, now=NOW)
    yield report, env
    env.stop()


def _service(env, key):
    return next(sid for sid, s in env.by_service_id.items() if s.key == key)


def post(base, sid, function, referer="", **fields):
    """What the browser sends for a form of the page (WHMCS's hidden fields and the form's)."""
    form = {"token": "", "id": str(sid), "modop": "custom", "a": function, **fields}
    with requests.Session() as browser:
        return browser.post(
            f"{base}/clientarea.php?action=productdetails&id={sid}",
            data=form,
            headers={"Referer": referer} if referer else {},
            timeout=30,
        )


def result_box(page):
    found = re.search(r'data-puq="action-result">([^<]*)<', page)
    return found.group(1) if found else None


@pytest.mark.skipif(shutil.which("php") is None, reason="php is not installed")
def test_the_served_page_creates_and_deletes_a_mailbox_through_php(served):
    report, env = served
    base, sid = report.urls["pages"], _service(env, "piekarnia")
    domain = env.by_service_id[sid].domain
    static = requests.get(f"{base}/{page_name(sid, 'pl')}", timeout=10).text
    assert 'data-puq="create-form"' in static and 'data-puq="manage-panel"' in static
    created = post(
        base,
        sid,
        "CreateMailbox",
        f"{base}/{page_name(sid, 'pl')}",
        local_part="nowa",
        display_name="<i>Nowa</i>",
        password=PASSWORD,
        password2=PASSWORD,
        quota_mb="100",
    )
    assert created.status_code == 200 and "lang=pl" in created.url
    assert result_box(created.text) == "Operacja zakończona pomyślnie."
    assert f'data-value="nowa@{domain}"' in created.text and "<i>Nowa</i>" not in created.text
    zimbra = env.zimbra_sims[env.by_service_id[sid].server.key]
    assert f"nowa@{domain}" in zimbra.accounts

    tampered = post(
        base, sid, "DeleteMailbox", mailbox="szef@example.net", confirm="szef@example.net"
    )
    assert result_box(tampered.text).startswith("Skrzynka: ta skrzynka nie należy")

    deleted = post(base, sid, "DeleteMailbox", mailbox=f"nowa@{domain}", confirm=f"nowa@{domain}")
    assert result_box(deleted.text) == "Operacja zakończona pomyślnie."
    assert f'data-value="nowa@{domain}"' not in deleted.text
    assert f"nowa@{domain}" not in zimbra.accounts
    assert PASSWORD not in created.text + deleted.text


def test_without_php_the_forms_go_straight_to_the_adapter(served):
    report, env = served
    sid = _service(env, "brightwave")
    domain = env.by_service_id[sid].domain
    desk = ProductDetailsDesk(env, php="")
    assert desk.php is None
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    form = {
        "id": str(sid),
        "modop": "custom",
        "a": "CreateMailbox",
        "local_part": "ania",
        "password": PASSWORD,
        "password2": PASSWORD,
        "quota_mb": "50",
    }
    request = Request(
        EnvironBuilder(
            method="POST",
            path="/clientarea.php",
            query_string=f"action=productdetails&id={sid}&lang=en",
            data=form,
        ).get_environ()
    )
    assert desk.handles(request)
    answer = desk.answer(request)
    assert answer.status_code == 303 and "done=1" in answer.headers["Location"]
    page = desk.page(sid, "en", "done")
    assert f'data-value="ania@{domain}"' in page
