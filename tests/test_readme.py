"""The README is a contract: every ``puq-bridge`` command in it parses, the safe ones run for real,
its example config loads, and its lists (API actions, product settings, deploy files) match the
code."""

import ast
import re
import shlex
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from puq_bridge.cli import COMMANDS, main
from puq_bridge.config import parse_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETUP_BLOCKS = ["pip install . && puq-bridge demo", "pip install '.[test]' && python -m pytest -q"]
PROGRAMS = ("puq-bridge", "/opt/puq-bridge/bin/puq-bridge")
#: Every ``*_env`` variable the example config names, with a value.
ENV = {
    "WHMCS_API_SECRET": "s3cret-api",
    "ZIMBRA_MAIL1_PASSWORD": "pw1",
    "ZIMBRA_MAIL2_PASSWORD": "pw2",
    "PUQ_BRIDGE_SECRET": "0123456789abcdef" * 4,
}


def code_blocks(lang: str, text: str = README) -> list[str]:
    """The bodies of the fenced blocks whose info string is ``lang``, in order."""
    return [
        m.group(1).rstrip("\n") for m in re.finditer(rf"^```{lang}\n(.*?)^```", text, re.M | re.S)
    ]


def command_lines(text: str = README) -> list[list[str]]:
    """Arguments (after the program name) of every ``puq-bridge`` invocation in the README's ``sh``
    blocks."""
    found = []
    for block in code_blocks("sh", text):
        for line in block.replace("\\\n", " ").splitlines():
            for segment in re.split(r"&&|;|\|\|", line):
                words = shlex.split(segment.strip()) if segment.strip() else []
                if words and words[0] in PROGRAMS:
                    found.append(words[1:])
    return found


def parse(args: list[str]) -> list[str]:
    """Parse a command line with click exactly as ``puq-bridge`` would, without running it; returns
    the command path.

    ``--help`` and ``--version`` stop parsing (click exits 0 there), as they do when run.
    """
    path, command, ctx, name, rest = [], main, None, "puq-bridge", list(args)
    try:
        while True:
            ctx = command.context_class(
                command, info_name=name, parent=ctx, **command.context_settings
            )
            with ctx.scope(cleanup=False):
                if not isinstance(command, click.Group):
                    rest = command.parse_args(ctx, rest)
                    break
                # the group's own options; what is left is a subcommand and its arguments
                rest = click.Command.parse_args(command, ctx, rest)
                if not rest:
                    break
                name, command, rest = command.resolve_command(ctx, rest)
                path.append(name)
        assert not rest, f"unexpected arguments {rest}"
    except click.exceptions.Exit as done:
        assert done.exit_code == 0
    return path


def example_config(tmp_path: Path) -> tuple[dict, Path]:
    """The README's TOML block, with its CA bundle paths pointing at a real (dummy) file in
    ``tmp_path``."""
    (block,) = code_blocks("toml")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    text = re.sub(r'verify = "[^"]+"', f'verify = "{ca}"', block)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return tomllib.loads(text), path


# --- set-up blocks and commands -------------------------------------------------------------------


def test_the_two_setup_blocks_come_first_exactly_as_given():
    assert code_blocks("sh")[:2] == SETUP_BLOCKS
    assert (
        README.index(SETUP_BLOCKS[0])
        < README.index(SETUP_BLOCKS[1])
        < README.index("## How it fits")
    )


def test_ci_runs_the_readme_test_command():
    lines = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip()]
    assert lines[-1] == SETUP_BLOCKS[1]


@pytest.mark.parametrize("args", command_lines(), ids=lambda a: " ".join(a)[:70])
def test_every_readme_command_parses(args, capsys):
    parse(args)


def test_every_command_is_in_the_readme():
    documented = {tuple(parse(args))[:1] for args in command_lines()}
    assert {(name,) for name in COMMANDS} <= documented
    assert len(command_lines()) >= 25


def test_a_wrong_command_line_does_not_parse():
    """The parser is strict, so the test above can fail: a typo'd option or a missing required one
    is caught."""
    with pytest.raises(click.UsageError):
        parse(["services", "--client", "42"])
    with pytest.raises(click.UsageError):
        parse(["cancel", "--when", "tomorrow", "--service-id", "1"])
    with pytest.raises(click.UsageError):
        parse(["users", "invite", "--client-id", "1"])


@pytest.mark.parametrize(
    "args",
    [a for a in command_lines() if a[-1] in ("--help", "--version")],
    ids=lambda a: " ".join(a),
)
def test_help_and_version_lines_run(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "puq-bridge" in result.output


def test_the_setup_demo_runs(tmp_path, monkeypatch):
    demo = [a for a in command_lines() if a == ["demo"]]
    assert demo, "the README's first block runs 'puq-bridge demo'"
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, demo[0])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "puq-bridge-demo" / "index.html").is_file()


def test_the_whmcs_module_lines_run_with_the_example_config(tmp_path):
    _, config = example_config(tmp_path)
    lines = [a for a in command_lines() if "whmcs-module" in a]
    assert lines
    for args in lines:
        args = [str(config) if a == "/etc/puq-bridge/config.toml" else a for a in args]
        out = Path(args[args.index("--out") + 1])
        args[args.index("--out") + 1] = str(tmp_path / out.name)
        result = CliRunner(env=ENV).invoke(main, args)
        assert result.exit_code == 0, result.output
        module = tmp_path / out.name / "modules" / "servers" / "puqzimbra"
        assert (module / "puqzimbra.php").is_file()
        assert (module / "puqzimbra.config.php").stat().st_mode & 0o777 == 0o600
    assert "cp -r /tmp/mod/modules /var/www/whmcs/" in README


# --- config, deploy files -------------------------------------------------------------------------


def test_the_example_config_loads(tmp_path):
    raw, _ = example_config(tmp_path)
    cfg = parse_config(raw, "README.md", env=ENV)
    assert [z.name for z in cfg.zimbra] == ["mail1", "mail2"]
    assert (
        cfg.zimbra_for(3).name == "mail1"
        and cfg.zimbra_for(None, "MAIL2.example.net").name == "mail2"
    )
    assert (
        cfg.whmcs.secret == ENV["WHMCS_API_SECRET"]
        and cfg.adapter.secret == ENV["PUQ_BRIDGE_SECRET"]
    )
    assert cfg.store.detail_days == 14 and cfg.render.stale_after_hours == 26


def test_the_readme_config_is_the_deploy_example():
    (block,) = code_blocks("toml")
    assert block + "\n" == (ROOT / "deploy" / "example-config.toml").read_text(encoding="utf-8")


def test_the_example_config_names_exactly_the_variables_of_the_secrets_example():
    (block,) = code_blocks("toml")
    named = set(re.findall(r'^\s*\w+_env = "(\w+)"', block, re.M))
    example = (ROOT / "deploy" / "secrets.env.example").read_text()
    assert named == set(re.findall(r"^(\w+)=", example, re.M)) == set(ENV)


def test_the_cron_line_is_the_deploy_file_and_parses():
    cron = [
        ln
        for ln in (ROOT / "deploy" / "puq-bridge.cron").read_text().splitlines()
        if ln and not ln.startswith("#") and "=" not in ln.split()[0]
    ]
    assert len(cron) == 1 and cron[0] in README
    command = cron[0].split(None, 6)[6]  # after "m h dom mon dow user"
    (invocation,) = [a for a in command_lines(f"```sh\n{command}\n```\n")]
    assert parse(invocation) == ["sync-usage"]


@pytest.mark.parametrize(
    "unit", ["puq-bridge.service", "puq-bridge@.service", "puq-bridge-sync.service"]
)
def test_systemd_units_run_a_command_that_parses(unit):
    text = (ROOT / "deploy" / unit).read_text()
    (exec_start,) = re.findall(r"^ExecStart=(.+)$", text, re.M)
    exec_start = exec_start.replace("%I", "127.0.0.1:8751")  # the template's instance: an address
    (invocation,) = command_lines(f"```sh\n{exec_start}\n```\n")
    assert parse(invocation) == [
        {
            "puq-bridge.service": "serve",
            "puq-bridge@.service": "serve",
            "puq-bridge-sync.service": "sync-usage",
        }[unit]
    ]
    assert "EnvironmentFile=/etc/puq-bridge/secrets.env" in text and "User=puq-bridge" in text


def test_deploy_files_named_in_the_readme_exist():
    for name in re.findall(r"`deploy/([\w.-]+)`", README):
        assert (ROOT / "deploy" / name).is_file(), name


# --- lists that must match the code ---------------------------------------------------------------


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 3)
    return README[start : end if end > 0 else None]


def whmcs_actions_by_method() -> dict[str, set[str]]:
    """WhmcsClient's public methods → the API actions they send (following calls to its other
    methods)."""
    tree = ast.parse((ROOT / "puq_bridge" / "whmcs" / "client.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "WhmcsClient")
    direct, calls = {}, {}
    for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
        direct[fn.name], calls[fn.name] = set(), set()
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "self"
            ):
                calls[fn.name].add(node.func.attr)
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and re.fullmatch(
                    r"[A-Z][A-Za-z]+", str(first.value)
                ):
                    direct[fn.name].add(first.value)

    def closure(name, seen):
        found = set(direct.get(name, ()))
        for other in calls.get(name, ()) - seen:
            found |= closure(other, seen | {name})
        return found

    methods = {name: closure(name, set()) for name in direct if not name.startswith("_")}
    return {name: actions for name, actions in methods.items() if actions and name != "call"}


def actions_the_bridge_calls() -> set[str]:
    """Actions reachable from the CLI, the sync and the adapter (not the demo, which drives the
    simulator)."""
    methods = whmcs_actions_by_method()
    files = [
        p
        for p in [*(ROOT / "puq_bridge").rglob("*.py"), *(ROOT / "whmcs_module").rglob("*.py")]
        if p.parts[-2:] != ("whmcs", "client.py")
        and "simulators" not in p.parts
        and "demo" not in p.parts
        and not p.name.startswith("demo")
    ]
    used = set()
    for path in files:
        for name in re.findall(r"\.(\w+)\(", path.read_text(encoding="utf-8")):
            used |= methods.get(name, set())
    return used


def test_the_api_role_lists_exactly_the_actions_the_bridge_calls():
    section = _section("WHMCS: API credential and role")
    listed = set(re.findall(r"^\s*\| `(\w+)` \|", section, re.M))
    assert listed == actions_the_bridge_calls()
    mentioned = set(re.findall(r"`([A-Z][A-Za-z]+)`", section))
    known = set().union(*whmcs_actions_by_method().values())
    assert mentioned <= known


def test_the_product_settings_table_matches_the_module_settings():
    from puq_bridge.whmcs.params import SETTINGS

    rows = re.findall(r"^\| (\d) \| ([^|]+?) \|", _section("The WHMCS module (forwarder)"), re.M)
    assert [(int(n), label) for n, label in rows] == [
        (i, s.label) for i, s in enumerate(SETTINGS, start=1)
    ]
