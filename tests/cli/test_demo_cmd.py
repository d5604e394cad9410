"""``puq-bridge demo``: run in-process (pages written, where they are said to be, no config needed),
its help, and as a real process serving until Ctrl-C (SIGINT)."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests
from click.testing import CliRunner

from puq_bridge.cli import main


def test_cli_demo_writes_the_pages_and_prints_where(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "provisioned 6 services" in result.output
    assert "requests answered: whmcs" in result.output
    assert str((out / "index.html").resolve()) in result.output
    assert len(list(out.glob("service-*.html"))) == 12


def test_cli_demo_defaults_to_puq_bridge_demo_in_the_current_folder_and_needs_no_config(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env={"PUQ_BRIDGE_CONFIG": str(tmp_path / "missing.toml")}).invoke(
        main, ["demo"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "puq-bridge-demo" / "index.html").is_file()


def test_cli_demo_serve_runs_until_ctrl_c(tmp_path):
    code = "import sys; from puq_bridge.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "demo", "--serve", "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        urls = _read_urls(proc, deadline=time.monotonic() + 20)
        assert requests.get(urls["pages"] + "/index.html", timeout=5).status_code == 200
        assert requests.get(urls["adapter"] + "/whmcs/ClientArea", timeout=5).status_code == 405
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopping" in out and "Traceback" not in err
    with pytest.raises(requests.ConnectionError):
        requests.get(urls["pages"] + "/index.html", timeout=2)


def _read_urls(proc, deadline):
    urls = {}
    for line in proc.stdout:
        match = re.match(r"\s+(\w+)\s+(http://127\.0\.0\.1:\d+)", line)
        if match:
            urls[match.group(1)] = match.group(2)
        if "pages" in urls or time.monotonic() > deadline:
            break
    assert "pages" in urls, (
        f"no URLs printed; stderr: {proc.stderr.read() if proc.poll() is not None else ''}"
    )
    return urls


def test_demo_help_says_what_it_does():
    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0
    assert "--serve" in result.output and "--out" in result.output and "simulators" in result.output


def test_demo_serve_writes_a_config_the_cli_can_use_and_sigterm_cleans_up(tmp_path):
    code = "import sys; from puq_bridge.cli import main; sys.exit(main())"
    config, scratch = tmp_path / "sandbox.toml", tmp_path / "tmp"
    scratch.mkdir()
    argv = ["demo", "--serve", "--out", str(tmp_path / "out"), "--write-config", str(config)]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TMPDIR=str(scratch)),
    )
    try:
        _read_urls(proc, deadline=time.monotonic() + 30)
        assert config.stat().st_mode & 0o777 == 0o600
        assert list(scratch.iterdir())  # the demo's working folder, while it runs
        check = CliRunner().invoke(main, ["--config", str(config), "check"])
        assert check.exit_code == 0, check.output
        services = CliRunner().invoke(
            main, ["--config", str(config), "services", "--client-id", "1"]
        )
        assert services.exit_code == 0 and "service(s)" in services.stdout
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "Traceback" not in err
    assert list(scratch.iterdir()) == []  # SIGTERM stopped it like Ctrl-C: nothing left behind
    assert config.with_suffix(".sqlite3").is_file()  # the sandbox's store is kept


def test_write_config_needs_serve(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--write-config", str(tmp_path / "c.toml")])
    assert result.exit_code == 2 and "--serve" in result.output
