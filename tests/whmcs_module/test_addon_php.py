"""The addon module end to end: real ``php`` runs the generated addon file the way WHMCS's admin
area does (tests/whmcs_module/php/addon_harness.php) against ``puq-bridge serve`` in a subprocess,
the simulators, and a store after a few syncs (cron's sync-usage and WHMCS's UsageUpdate)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from puq_bridge import __version__
from puq_bridge.cli import main
from tests.support.adapter import signed
from tests.support.sync import GB, MB, PASSWORD, Farm, write_config
from tests.whmcs_module.test_views import usage_update

PHP = shutil.which("php")
pytestmark = pytest.mark.skipif(PHP is None, reason="php (php-cli) is not installed")
HARNESS = Path(__file__).parent / "php" / "addon_harness.php"
SECRET = "addon-shared-secret-0123456789-abcdef"
FORM_TOKEN = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"  # the harness's generate_token('plain')
WRONG_PASSWORD = "not-the-zimbra-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_php(modules: Path, calls: list[dict], tmp_path: Path) -> list:
    calls_file = tmp_path / "calls.json"
    calls_file.write_text(json.dumps(calls))
    done = subprocess.run(
        [PHP, str(HARNESS), str(modules), "puqzimbra", str(calls_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Fatal" not in done.stdout + done.stderr
    return json.loads(done.stdout)["results"]


def output(modules, tmp_path, **call) -> str:
    return run_php(modules, [{"function": "output", **call}], tmp_path)[0]


class Serve:
    """``puq-bridge serve`` in a subprocess, secrets only in its environment."""

    def __init__(self, config: Path, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = "import sys; from puq_bridge.cli import main; sys.exit(main())"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                command,
                "--config",
                str(config),
                "serve",
                "--listen",
                f"127.0.0.1:{self.port}",
            ],
            env={**os.environ, **env},
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert self.process.poll() is None, self.process.communicate()[1]
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.05)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.communicate(timeout=15)[1]


@pytest.fixture
def world(whmcs_server, tmp_path):
    """Two Zimbras (mail2's password in the config is wrong: it fails), five services, a store
    after two sync-usage runs and one UsageUpdate, serve running, and the generated modules."""
    sim, url = whmcs_server
    farm = Farm(sim)
    farm.add_mail("mail1")
    farm.add_mail("mail2")
    farm.domain("mail1", "pelna.pl", (950 * MB, 1000 * MB))
    farm.domain("mail1", "mala.pl", (3 * MB, GB), (MB, GB))
    farm.domain("mail1", "sierota.pl", (MB, GB))
    farm.domain("mail2", "druga.pl", (5 * MB, GB))
    farm.ids = {
        "pelna": farm.service("mail1", "pelna.pl"),
        "mala": farm.service("mail1", "mala.pl"),
        "brak": farm.service("mail1", "brak.pl"),
        "druga": farm.service("mail2", "druga.pl"),
    }
    config, store, env = write_config(tmp_path, url, farm)
    env["T_ZIMBRA_1"] = WRONG_PASSWORD
    env["T_ADAPTER_SECRET"] = SECRET
    with config.open("a", encoding="utf-8") as file:
        file.write('\n[adapter]\nsecret_env = "T_ADAPTER_SECRET"\n')
    runner = CliRunner(env=env)
    for _ in range(2):
        runner.invoke(main, ["--config", str(config), "sync-usage"], catch_exceptions=False)
    serve = Serve(config, env)
    try:
        # WHMCS's daily UsageUpdate: the forwarder sends the server's services from tblhosting
        rows = [
            (farm.ids[key], domain, farm.product, "Active", 0, 0, None, "", farm.client_id)
            for key, domain in (("pelna", "pelna.pl"), ("mala", "mala.pl"), ("brak", "brak.pl"))
        ]
        update = usage_update(farm.mail["mail1"].entry.whmcs_server, *rows)
        body, headers = signed(update, secret=SECRET)
        reply = requests.post(f"{serve.url}/whmcs/UsageUpdate", data=body, headers=headers)
        assert reply.status_code == 200, reply.text
        written = runner.invoke(
            main,
            [
                "--config",
                str(config),
                "whmcs-module",
                "--name",
                "puqzimbra",
                "--out",
                str(tmp_path / "whmcs"),
                "--bridge-url",
                serve.url,
            ],
        )
        assert written.exit_code == 0, written.output
        farm.modules, farm.serve, farm.tmp = tmp_path / "whmcs" / "modules", serve, tmp_path
        yield farm
    finally:
        stderr = serve.stop()
        farm.stop()
        for secret in (SECRET, PASSWORD, WRONG_PASSWORD, "whmcs-secret"):
            assert secret not in stderr


def wait_idle(world, **call) -> str:
    """The page once no job runs any more (it reloads itself while one does)."""
    deadline = time.monotonic() + 30
    while True:
        page = output(world.modules, world.tmp, **call)
        if 'data-puq-busy="1"' not in page:
            return page
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.2)


def test_config_activate_and_deactivate_give_what_whmcs_expects(world):
    config, activated, deactivated = run_php(
        world.modules,
        [{"function": "config"}, {"function": "activate"}, {"function": "deactivate"}],
        world.tmp,
    )
    assert config == {
        "name": "puq-bridge: Zimbra mail",
        "description": config["description"],
        "version": __version__,
        "author": "puq-bridge",
        "language": "english",
        "fields": [],
    }
    assert "Sync now" in config["description"]
    assert activated["status"] == deactivated["status"] == "success"
    assert "Nothing to create" in activated["description"]
    assert "Nothing to remove" in deactivated["description"]
    addon = (world.modules / "addons" / "puqzimbra" / "puqzimbra.php").read_text()
    assert SECRET not in addon and "servers/puqzimbra/puqzimbra.config.php" in addon


def test_output_prints_the_four_sections_with_the_real_figures(world):
    page = wait_idle(world)
    for section in ("runs", "servers", "usage", "actions", "tools"):
        assert f'data-puq="{section}"' in page
    # the runs: two by cron, one by WHMCS's UsageUpdate
    assert page.count('data-puq-run="') == 3
    assert "WHMCS UsageUpdate" in page and "sync-usage (cron)" in page
    # the servers: mail2 failed with its error, mail1 partly (brak.pl is not on it)
    assert 'data-puq-server="mail2" data-puq-server-state="failed"' in page
    assert "AUTH_FAILED" in page
    assert 'data-puq-server="mail1" data-puq-server-state="partial"' in page
    # the usage overview: the nearly full domain, linked to its service in WHMCS
    pelna = world.ids["pelna"]
    assert 'data-puq-domain="pelna.pl" class="danger" data-puq-nearly-full="1"' in page
    assert f"clientsservices.php?userid={world.client_id}&amp;id={pelna}" in page
    assert "95.0%" in page
    assert f'data-puq-missing="{world.ids["brak"]}"' in page
    assert 'data-puq="actions-empty"' in page  # no client actions recorded yet
    assert 'data-puq="version-warning"' not in page  # generated by this very bridge
    for secret in (SECRET, PASSWORD, WRONG_PASSWORD, "whmcs-secret"):
        assert secret not in page


def test_the_admins_language_draws_the_page_in_polish(world):
    page = wait_idle(world, language="polish")
    assert 'lang="pl"' in page and "Synchronizacje" in page and "95,0%" in page
    sidebar = run_php(world.modules, [{"function": "sidebar", "language": "polish"}], world.tmp)
    assert "Zużycie" in sidebar[0] and 'data-puq="addon-sidebar"' in sidebar[0]


def test_orphan_domains_are_listed_once_zimbra_was_read(world):
    deadline = time.monotonic() + 20
    while 'data-puq-orphan="sierota.pl"' not in (page := wait_idle(world)):
        assert time.monotonic() < deadline, "the domain list of mail1 was never read"
        time.sleep(0.2)
    assert 'data-puq-orphan="pelna.pl"' not in page


def test_sync_now_runs_a_sync_in_the_background(world):
    world.mail["mail1"].sim.set_used("user0@pelna.pl", 990 * MB)
    started = output(
        world.modules,
        world.tmp,
        method="POST",
        post={"puq_action": "sync", "puq_server": "", "token": FORM_TOKEN},
    )
    assert 'data-puq="notice"' in started and "Sync of all servers started" in started
    page = wait_idle(world)
    assert page.count('data-puq-run="') == 4 and ">Sync now</td>" in page
    assert world.whmcs.services[world.ids["pelna"]]["diskusage"] == "990"
    assert "99.0%" in page


def test_an_action_without_whmcs_form_token_is_refused(world):
    before = world.whmcs.count("GetClientsProducts")
    page = output(
        world.modules,
        world.tmp,
        method="POST",
        post={"puq_action": "sync", "puq_server": "mail1", "token": "forged"},
    )
    assert "security token did not match" in page
    assert 'data-puq="running-job"' not in page
    assert world.whmcs.count("GetClientsProducts") == before


def test_test_now_authenticates_and_shows_the_version(world):
    output(
        world.modules,
        world.tmp,
        method="POST",
        post={"puq_action": "test", "puq_server": "mail1", "token": FORM_TOKEN},
    )
    page = wait_idle(world)
    assert "Zimbra 10.0.8_GA" in page
    output(
        world.modules,
        world.tmp,
        method="POST",
        post={"puq_action": "test", "puq_server": "mail2", "token": FORM_TOKEN},
    )
    page = wait_idle(world)
    tested = page.split('data-puq-server="mail2"', 1)[1].split("</tr>", 1)[0]
    assert "AUTH_FAILED" in tested and 'data-puq-state="failed"' in tested


def test_a_stopped_bridge_gives_a_readable_box_and_php_exits_0(world):
    world.serve.stop()
    page, sidebar = run_php(
        world.modules, [{"function": "output"}, {"function": "sidebar"}], world.tmp
    )
    assert 'data-puq="addon-unreachable"' in page
    assert f"puq-bridge is unreachable at {world.serve.url}" in page
    assert "<script" not in page and SECRET not in page
    assert "not available" in sidebar
    polish = output(world.modules, world.tmp, language="polish")
    assert "Strona puq-bridge jest niedostępna." in polish
