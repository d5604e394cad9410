"""HTTPS on loopback for tests: a self-signed certificate for 127.0.0.1, a simulator over TLS.

Zimbra's admin port 7071 speaks HTTPS only, so a server the bridge knows only from WHMCS's params is
reached over https; these helpers let such tests run against a simulator without any outside
service. The certificate is made with ``cryptography`` (a dependency of the test tools), valid for
``127.0.0.1`` and ``localhost``; a client trusts it when given its path as the CA bundle (``verify``
or ``REQUESTS_CA_BUNDLE``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from werkzeug.serving import WSGIRequestHandler, make_server


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """Write ``cert.pem`` and ``key.pem`` (self-signed, for 127.0.0.1) into ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass

    def log_error(self, *args):
        pass


@contextmanager
def https_server(app, cert: Path, key: Path) -> Iterator[str]:
    """Serve the WSGI ``app`` over TLS on 127.0.0.1 (a free port) in the block; yields its URL."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=_Quiet, ssl_context=context
    )
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
