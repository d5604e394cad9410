"""Poster against real loopback servers: the same request on the wire as Session.post, proxies from
the environment (HTTP_PROXY, NO_PROXY), cookies, session auth, errors, and many threads sharing one
Poster."""

import threading
import time
from urllib.parse import parse_qsl

import pytest
import requests

from puq_bridge.http import (
    DeadlineExceeded,
    Poster,
    RedirectRefused,
    deadline_for,
    pooled_session,
)
from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.whmcs.transport import FORM_HEADERS, form_body
from tests.support.pools import discarded_connections

PROXY_VARS = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
)


class Recorder:
    """A WSGI app that records each request (target, headers, body) and answers ``ok:<body>``."""

    def __init__(self, cookie: str | None = None):
        self.seen: list[dict] = []
        self.cookie = cookie
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["Content-Length"] = environ["CONTENT_LENGTH"]
        with self.lock:
            self.seen.append(
                {
                    "target": environ.get("REQUEST_URI") or environ["PATH_INFO"],
                    "headers": headers,
                    "body": body,
                }
            )
        reply = [("Content-Type", "text/plain")]
        if self.cookie:
            reply.append(("Set-Cookie", f"{self.cookie}; Path=/"))
        start_response("200 OK", reply)
        return [b"ok:" + body]


@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def recorder():
    app = Recorder()
    with BackgroundServer(app) as server:
        yield app, server.url + "/service/admin/soap"


def test_the_request_on_the_wire_is_session_posts(no_proxy_env, recorder):
    app, url = recorder
    session = requests.Session()
    session.headers["X-Extra"] = "from-the-session"
    poster = Poster(session, url, {"Content-Type": "text/xml; charset=utf-8"})
    for body in (b"<a/>", b"<longer>" * 100, b""):
        session.post(
            url, data=body, headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"x"'}
        )
        response = poster.post(body, headers={"SOAPAction": '"x"'}, timeout=2, verify=True)
        assert response.status_code == 200 and response.content == b"ok:" + body
        expected, got = app.seen[-2], app.seen[-1]
        assert got == expected
        assert (
            got["headers"]["X-Extra"] == "from-the-session"
            and got["headers"]["Soapaction"] == '"x"'
        )


def test_a_form_body_is_what_requests_encodes(no_proxy_env, recorder):
    app, url = recorder
    fields = {
        "action": "UpdateClientProduct",
        "secret": "s&e=c+r%e t",
        "notes": "zażółć\r\n<&>",
        "empty": "",
        "dropped": None,
        "lastupdate": "2026-01-02 03:04:05",
    }
    session = requests.Session()
    session.post(url, data=fields)
    Poster(session, url, FORM_HEADERS).post(form_body(fields), timeout=2, verify=True)
    assert app.seen[0] == app.seen[1]
    assert dict(parse_qsl(app.seen[1]["body"].decode(), keep_blank_values=True)) == {
        k: v for k, v in fields.items() if v is not None
    }


def test_http_proxy_from_the_environment_is_used_and_no_proxy_honoured(no_proxy_env, recorder):
    app, direct_url = recorder
    proxy = Recorder()
    with BackgroundServer(proxy) as proxy_server:
        no_proxy_env.setenv("HTTP_PROXY", proxy_server.url)
        via = Poster(requests.Session(), "http://zimbra.invalid:7071/service/admin/soap")
        assert via.post(b"<via/>", timeout=2, verify=True).content == b"ok:<via/>"
        assert proxy.seen[0]["target"] == "http://zimbra.invalid:7071/service/admin/soap"

        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        direct = Poster(requests.Session(), direct_url)
        assert direct.post(b"<direct/>", timeout=2, verify=True).content == b"ok:<direct/>"
    assert len(proxy.seen) == 1 and app.seen[0]["body"] == b"<direct/>"


def test_the_environment_is_read_once_not_per_request(no_proxy_env, recorder):
    app, url = recorder
    poster = Poster(requests.Session(), url)
    poster.post(b"1", timeout=2, verify=True)
    no_proxy_env.setenv(
        "HTTP_PROXY", "http://127.0.0.1:9"
    )  # nothing listens there: a per-request read would fail
    assert poster.post(b"2", timeout=2, verify=True).content == b"ok:2"
    assert [s["body"] for s in app.seen] == [b"1", b"2"]


def test_a_servers_cookie_goes_back_as_with_session_post(no_proxy_env):
    app = Recorder(cookie="JSESSIONID=abc123")
    with BackgroundServer(app) as server:
        session = requests.Session()
        poster = Poster(session, server.url + "/x")
        poster.post(b"first", timeout=2, verify=True)
        poster.post(b"second", timeout=2, verify=True)
    assert "Cookie" not in app.seen[0]["headers"]
    assert app.seen[1]["headers"]["Cookie"] == "JSESSIONID=abc123"


def test_a_session_with_auth_still_authenticates(no_proxy_env, recorder):
    app, url = recorder
    session = requests.Session()
    session.auth = ("proxy-user", "pw")
    Poster(session, url).post(b"x", timeout=2, verify=True)
    assert app.seen[0]["headers"]["Authorization"].startswith("Basic ")


def test_errors_are_requests_exceptions(no_proxy_env):
    server = BackgroundServer(Recorder()).start()
    url = server.url + "/x"
    server.stop()
    with pytest.raises(requests.ConnectionError):
        Poster(requests.Session(), url).post(b"x", timeout=1, verify=True)
    with pytest.raises(requests.exceptions.InvalidURL):
        Poster(requests.Session(), "http://").post(b"x", timeout=1, verify=True)


def test_threads_sharing_one_poster_each_get_their_own_reply(no_proxy_env, recorder):
    app, url = recorder
    poster = Poster(requests.Session(), url)
    replies, errors = {}, []

    def post(i: int) -> None:
        try:
            for j in range(5):
                body = f"{i}-{j}".encode()
                replies[body] = poster.post(
                    body, headers={"X-N": body.decode()}, timeout=5, verify=True
                ).content
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(replies) == 40 and all(reply == b"ok:" + body for body, reply in replies.items())
    assert all(s["headers"]["X-N"].encode() == s["body"] for s in app.seen)


def test_pooled_session_sizes_both_schemes_and_keeps_requests_defaults(self_signed, caplog):
    session = pooled_session(24)
    for tls in (None, self_signed):  # http and https
        # 24 requests at once keep their connections; a 25th gets one too (never waits) and it is
        # thrown away
        assert discarded_connections(session, 24, tls=tls) == 0
        assert discarded_connections(session, 25, tls=tls) == 1
        small = pooled_session(4)  # never below requests' 10
        assert discarded_connections(small, 10, tls=tls) == 0
        assert discarded_connections(small, 11, tls=tls) == 1
    caplog.set_level("DEBUG", logger="urllib3")
    with pytest.raises(
        requests.ConnectionError
    ):  # requests' default: a refused connection is not retried
        session.post("http://127.0.0.1:9/", data=b"x", timeout=2)
    assert "Retrying" not in caplog.text and "Starting new HTTP connection" in caplog.text
    session.close()


def slow(environ, start_response):
    """A WSGI app that takes 50 ms per request (so that 16 threads' requests overlap)."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    time.sleep(0.05)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.mark.parametrize("pooled", [True, False])
def test_a_pooled_session_keeps_a_connection_for_each_of_16_threads(caplog, pooled):
    """With requests' 10 per host, the 11th to 16th connections of 16 threads at once are dropped
    after each request ("Connection pool is full, discarding connection"); a pool of 16 keeps them
    all."""
    caplog.set_level("WARNING", logger="urllib3.connectionpool")
    with BackgroundServer(slow) as server:
        session = pooled_session(16) if pooled else requests.Session()
        poster = Poster(session, server.url + "/api")
        for _round in range(2):
            threads = [
                threading.Thread(
                    target=poster.post, args=(b"x",), kwargs={"timeout": 5, "verify": True}
                )
                for _ in range(16)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        session.close()
    dropped = [r for r in caplog.records if "pool is full" in r.getMessage()]
    assert (dropped == []) is pooled


@pytest.mark.parametrize(
    "url, verify, expect",
    [
        ("http://mail1.example.com:7071", True, "plain http"),
        ("http://192.0.2.4/", True, "plain http"),
        ("https://mail1.example.com:7071", False, "verification is OFF"),
        ("http://127.0.0.1:8750", True, None),
        ("http://localhost:8750", False, None),
        ("https://mail1.example.com:7071", True, None),
    ],
)
def test_transport_warnings(url, verify, expect):
    from puq_bridge.http import transport_warnings

    warnings = transport_warnings("Zimbra mail1", url, verify)
    assert (expect in warnings[0]) if expect else warnings == []
    if expect == "plain http":
        assert "OFF" not in warnings[0]  # plain http has no TLS to turn off


# --- a deadline for the whole exchange
# ----------------------------------------------------------------------------


class Trickler:
    """A raw TCP server that answers every request a byte at a time, ``pause`` seconds apart, from
    the status line on (or, with ``body_only``, after sending the headers at once): a per-read
    timeout never fires."""

    def __init__(self, pause: float, *, body_only: bool = False):
        import socket

        self.pause, self.body_only = pause, body_only
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/api"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        body = b"ok" * 500
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(
            body
        )
        with conn:
            try:
                conn.recv(65536)
                if self.body_only:
                    conn.sendall(head)
                for i in range(len(body) + (0 if self.body_only else len(head))):
                    if self.stop.wait(self.pause):
                        return
                    data = body if self.body_only else head + body
                    conn.sendall(data[i : i + 1])
            except OSError:
                return

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("body_only", [False, True], ids=["status-line", "body"])
def test_a_trickling_reply_ends_at_the_deadline(no_proxy_env, bounded, body_only):
    server = Trickler(0.1, body_only=body_only)
    try:
        poster = Poster(pooled_session(), server.url)
        with pytest.raises(DeadlineExceeded) as caught:
            bounded(poster.post, b"x", timeout=(1, 1), verify=True, deadline=0.5)
    finally:
        server.close()
    assert isinstance(caught.value, requests.Timeout)  # retried like any timeout where reads are
    assert str(caught.value) == (
        f"no complete reply from {server.url.rsplit('/', 1)[0]} "
        "within the 0.5 s deadline for a request"
    )


def test_the_default_deadline_follows_the_timeout():
    assert deadline_for(30) == 90 and deadline_for((2, 5)) == 12 and deadline_for(0.5) == 1.5


def test_a_connection_given_back_to_the_pool_is_not_cut_by_an_old_deadline(no_proxy_env, recorder):
    app, url = recorder
    poster = Poster(pooled_session(), url)
    assert poster.post(b"1", timeout=2, verify=True, deadline=0.1).content == b"ok:1"
    threading.Event().wait(0.3)  # the first request's deadline has passed; its connection is idle
    assert poster.post(b"2", timeout=2, verify=True, deadline=5).content == b"ok:2"
    assert [s["body"] for s in app.seen] == [b"1", b"2"]


# --- no redirect is followed
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_refused_and_the_body_goes_nowhere_else(no_proxy_env, status):
    """The body carries credentials (WHMCS's secret, Zimbra's AuthRequest password): never
    resent."""
    elsewhere = Recorder()
    with BackgroundServer(elsewhere) as other:
        target = other.url + "/steal?token=abc"

        def redirecting(environ, start_response):
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            start_response(f"{status} Moved", [("Location", target), ("Content-Length", "0")])
            return [b""]

        with BackgroundServer(redirecting) as server:
            for session in (pooled_session(), requests.Session()):
                poster = Poster(session, server.url + "/includes/api.php")
                with pytest.raises(RedirectRefused) as caught:
                    poster.post(b"secret=s3cr3t", timeout=2, verify=True)
    assert elsewhere.seen == []
    message = str(caught.value)
    assert f"HTTP {status} redirect to {other.url}/steal refused" in message
    assert "token=abc" not in message and "s3cr3t" not in message
