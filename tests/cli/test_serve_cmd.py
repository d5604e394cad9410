"""``puq-bridge serve`` and ``puq-bridge whmcs-module``: refusing bad settings in one line,
answering signed requests as a real process, and writing the forwarder."""

import socket
import time

import pytest
import requests
from click.testing import CliRunner

from puq_bridge.cli import main
from tests.support.adapter import (
    SECRET,
    signed,
    write_cli_config,
)

# --- the serve command ----------------------------------------------------------------------------


def test_serve_refuses_to_start_without_a_secret(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(write_cli_config(tmp_path, 'listen = "127.0.0.1:8750"', store=True)),
            "serve",
        ],
    )
    assert result.exit_code == 2
    assert "adapter.secret" in result.output and "no shared secret" in result.output


def test_serve_refuses_a_bad_listen_address(tmp_path):
    config = write_cli_config(tmp_path, f'secret = "{SECRET}"', store=True)
    result = CliRunner().invoke(main, ["--config", str(config), "serve", "--listen", "nowhere"])
    assert result.exit_code == 2 and "HOST:PORT" in result.output


def wait_until_listening(process, port: int, seconds: float = 20) -> None:
    """Wait for a ``serve`` subprocess to accept connections (failing if it exits first)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.05)


def test_serve_command_answers_signed_requests(tmp_path):
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_cli_config(tmp_path, f'secret = "{SECRET}"\nlisten = "127.0.0.1:1"', store=True)
    command = "import sys; from puq_bridge.cli import main; sys.exit(main())"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            command,
            "--config",
            str(config),
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_listening(process, port)
        body, headers = signed({})
        reply = requests.post(
            f"http://127.0.0.1:{port}/whmcs/MetaData", data=body, headers=headers, timeout=5
        )
        assert reply.status_code == 200 and reply.json()["result"]["APIVersion"] == "1.1"
        assert (
            requests.post(
                f"http://127.0.0.1:{port}/whmcs/MetaData", data=body, timeout=5
            ).status_code
            == 401
        )
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert f"listening on http://127.0.0.1:{port}" in stderr
    assert SECRET not in stderr


# --- the whmcs-module command ---------------------------------------------------------------------


def test_cli_writes_the_module(tmp_path):
    config = write_cli_config(tmp_path, f'listen = "127.0.0.1:8751"\nsecret = "{SECRET}"')
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "whmcs-module",
            "--name",
            "puqzimbra",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    written = tmp_path / "out" / "modules" / "servers" / "puqzimbra" / "puqzimbra.config.php"
    assert str(written) in result.output
    assert "'http://127.0.0.1:8751'" in written.read_text()
    assert SECRET not in result.output


def test_cli_bridge_url_option_wins(tmp_path):
    config = write_cli_config(tmp_path, f'secret = "{SECRET}"')
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "whmcs-module",
            "--name",
            "m1",
            "--out",
            str(tmp_path),
            "--bridge-url",
            "https://bridge.example.com:8443",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "'https://bridge.example.com:8443'"
        in (tmp_path / "modules/servers/m1/m1.config.php").read_text()
    )


@pytest.mark.parametrize(
    "adapter, args, expect, code",
    [
        ('listen = "127.0.0.1:8750"', ["--name", "ok"], "adapter.secret", 2),
        (f'secret = "{SECRET}"', ["--name", "Bad-Name"], "invalid module name", 2),
        (f'secret = "{SECRET}"', ["--name", "puq_zimbra"], "letters and digits", 2),
        (f'listen = "0.0.0.0:8750"\nsecret = "{SECRET}"', ["--name", "ok"], "--bridge-url", 2),
    ],
)
def test_cli_refuses_bad_input_in_one_line(tmp_path, adapter, args, expect, code):
    config = write_cli_config(tmp_path, adapter)
    result = CliRunner().invoke(
        main, ["--config", str(config), "whmcs-module", *args, "--out", str(tmp_path)]
    )
    assert result.exit_code == code
    assert expect in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "modules").exists()


def test_serve_on_a_busy_port_is_one_line_not_a_traceback(tmp_path):
    from click.testing import CliRunner

    from puq_bridge.cli import main

    config = write_cli_config(tmp_path, f'secret = "{SECRET}"', store=True)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        taken = CliRunner().invoke(
            main, ["--config", str(config), "serve", "--listen", f"127.0.0.1:{port}"]
        )
    absent = CliRunner().invoke(
        main, ["--config", str(config), "serve", "--listen", "192.0.2.77:8750"]
    )
    for result, why in ((taken, "already in use"), (absent, "no such address")):
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and why in lines[0] and "Traceback" not in result.stderr


def test_sigterm_lets_the_call_in_flight_finish(tmp_path):
    """systemd restarts send SIGTERM: a WHMCS call being handled still gets its answer, and the
    service then exits 0 without taking new ones."""
    import signal
    import subprocess
    import sys
    import threading

    from puq_bridge.simulators.server import BackgroundServer
    from puq_bridge.simulators.zimbra.app import FakeZimbra

    zimbra = FakeZimbra("admin@example.com", "zimbra-secret-1")
    zimbra.add_domain("firma.pl")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with BackgroundServer(zimbra.wsgi_app) as served:
        config = tmp_path / "bridge.toml"
        config.write_text(
            '[whmcs]\nurl = "http://127.0.0.1:9"\nidentifier = "id"\nsecret = "whmcs-secret-1"\n'
            f'[[zimbra]]\nname = "mail1"\nwhmcs_server = 3\nurl = "{served.url}"\n'
            'admin_user = "admin@example.com"\npassword = "zimbra-secret-1"\n'
            f'[store]\npath = "{tmp_path / "usage.sqlite3"}"\n'
            f'[adapter]\nsecret = "{SECRET}"\nlisten = "127.0.0.1:{port}"\n'
        )
        config.chmod(0o600)
        command = "import sys; from puq_bridge.cli import main; sys.exit(main())"
        process = subprocess.Popen(
            [sys.executable, "-c", command, "--config", str(config), "serve"],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until_listening(process, port)
            zimbra.latency = 1.0  # the call is still in flight when SIGTERM comes
            params = {"serviceid": 42, "serverid": 3, "domain": "firma.pl"}
            body, headers = signed(params)
            replies = []
            call = threading.Thread(
                target=lambda: replies.append(
                    requests.post(
                        f"http://127.0.0.1:{port}/whmcs/UnsuspendAccount",
                        data=body,
                        headers=headers,
                        timeout=30,
                    )
                )
            )
            call.start()
            while not zimbra.requests:  # the bridge has reached Zimbra
                time.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            call.join(30)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            stderr = process.stderr.read()
    assert replies and replies[0].status_code == 200, stderr
    assert replies[0].json() == {"result": "success"}
    assert code == 0 and "stopped" in stderr and "Traceback" not in stderr
