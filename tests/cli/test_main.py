"""General CLI behaviour: help on every command, --version, config errors, and a start-up that loads
neither zeep nor psycopg."""

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from puq_bridge import __version__
from puq_bridge.cli import COMMANDS, main
from tests.support.adapter import write_cli_config


def _all_command_paths():
    """Every command and subcommand as an argv prefix: ["check"], ["users", "invite"], ..."""
    ctx = click.Context(main)
    paths = []
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        paths.append([name])
        if isinstance(command, click.Group):
            paths.extend([name, sub] for sub in command.list_commands(ctx))
    return paths


def _command(path):
    ctx = click.Context(main)
    command = main.get_command(ctx, path[0])
    for name in path[1:]:
        command = command.get_command(ctx, name)
    return command


def test_every_registered_command_loads():
    ctx = click.Context(main)
    assert main.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        assert isinstance(main.get_command(ctx, name), click.Command), name


@pytest.mark.parametrize("path", _all_command_paths(), ids=" ".join)
def test_every_command_has_help(path):
    command = _command(path)
    assert command.help and command.help.strip(), f"{' '.join(path)} has no docstring"
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    first_paragraph = " ".join(command.help.strip().split("\n\n")[0].split())
    assert first_paragraph in " ".join(result.output.split())
    assert (
        f"Usage: main {' '.join(path)}" in result.output
        or f"Usage: puq-bridge {' '.join(path)}" in result.output
    )


@pytest.mark.parametrize("path", _all_command_paths(), ids=" ".join)
def test_every_option_has_help(path):
    command = _command(path)
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"


def test_top_level_help_lists_every_command_with_a_summary():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listing = result.output.split("Commands:", 1)[1]
    for name in COMMANDS:
        line = next(l for l in listing.splitlines() if l.strip().startswith(name + " "))
        assert line.strip()[len(name) :].strip(), f"{name} has no summary in the listing"


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"puq-bridge, version {__version__}"


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "toml, expected",
    [
        (
            '[whmcs]\nurl = "http://127.0.0.1:9"\nidentifier = "id"\n'
            'secret_env = "PUQ_TEST_UNSET_SECRET"\n',
            "whmcs.secret_env: environment variable PUQ_TEST_UNSET_SECRET is not set",
        ),
        (
            '[whmcs]\nurl = "http://127.0.0.1:9"\nidentifier = "id"\nsecret = "s3cr3t-value"\n'
            'colour = "red"\n',
            "whmcs.colour: unknown key",
        ),
        ("[sync]\nconcurrency = 2\n", "whmcs: missing required section [whmcs]"),
        ("[whmcs\n", "not valid TOML"),
    ],
    ids=["unset-env", "unknown-key", "no-whmcs", "bad-toml"],
)
def test_config_error_is_one_line_and_exit_2(tmp_path, monkeypatch, toml, expected):
    monkeypatch.delenv("PUQ_TEST_UNSET_SECRET", raising=False)
    config = _write(tmp_path / "bridge.toml", toml)
    result = CliRunner().invoke(main, ["--config", config, "services", "--client-id", "1"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {config}: ")
    assert expected in lines[0]
    assert "s3cr3t-value" not in result.stderr


def test_missing_config_file_is_one_line_and_exit_2(tmp_path):
    missing = str(tmp_path / "nope.toml")
    result = CliRunner().invoke(main, ["--config", missing, "check", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {missing}: config file not found"]


def test_config_found_through_environment_variable(tmp_path, monkeypatch):
    config = _write(
        tmp_path / "env.toml", '[whmcs]\nurl = "ftp://x"\nidentifier = "i"\nsecret = "abcd1234"\n'
    )
    monkeypatch.setenv("PUQ_BRIDGE_CONFIG", config)
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == f"error: {config}: whmcs.url: must be an http:// or https:// URL, got 'ftp://x'"
    )


def test_usage_error_exit_2():
    result = CliRunner().invoke(main, ["services"])
    assert result.exit_code == 2
    assert "Missing option '--client-id'" in result.stderr


_PROBE = """
import json, sys
from puq_bridge.cli import main
try:
    main({argv!r}, prog_name="puq-bridge")
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules
               if m.split(".")[0] in ("zeep", "lxml", "psycopg", "psycopg_pool")
               or m in ("puq_bridge.zimbra.client", "puq_bridge.simulators.zimbra.app"))
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["check", "--help"],
        ["services", "--help"],
        ["users", "invite", "--help"],
        ["cancel", "--help"],
        ["store", "copy", "--help"],
        ["serve", "--help"],
    ],
    ids=" ".join,
)
def test_help_does_not_import_zeep_lxml_or_psycopg(argv):
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(argv=argv)], capture_output=True, text=True, timeout=60
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, proc.stderr
    assert report["heavy"] == [], f"{' '.join(argv)} imported {report['heavy']}"
    assert "Usage: puq-bridge" in proc.stdout


def test_bare_command_shows_the_help_and_exits_0():
    result = CliRunner().invoke(main, [])
    assert result.exit_code == 0 and "Commands:" in result.stdout


def test_no_summary_in_the_command_list_is_cut():
    listing = CliRunner().invoke(main, ["--help"]).stdout.split("Commands:")[1]
    lines = [line for line in listing.splitlines() if line.strip()]
    assert len(lines) >= 10
    assert not [line for line in lines if line.rstrip().endswith("...")]
    assert "remove" in next(line for line in lines if line.split()[0] == "users")


def test_render_takes_any_language_with_a_catalog_and_names_a_missing_one(tmp_path):
    config = write_cli_config(tmp_path, f'secret = "{"s" * 40}"')
    result = CliRunner().invoke(
        main, ["--config", str(config), "render", "--service-id", "1", "--lang", "de"]
    )
    assert result.exit_code == 2 and "i18n/de.json" in result.stderr
    weird = CliRunner().invoke(
        main, ["--config", str(config), "render", "--service-id", "1", "--lang", "../x"]
    )
    assert weird.exit_code == 2 and "not a language code" in weird.stderr
