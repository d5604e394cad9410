"""Helpers for the CLI tests: a config file pointing at simulators served on loopback, and running
the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner, Result

from puq_bridge.cli import main

WHMCS_SECRET_ENV = "PUQ_TEST_WHMCS_SECRET"


@dataclass
class ZimbraTarget:
    """One ``[[zimbra]]`` entry to write: where it is and the password (given through an env
    variable)."""

    name: str
    url: str
    admin_user: str
    password: str
    whmcs_server: int | str = 1


@dataclass
class Bridge:
    """A config file in a temporary folder plus the environment its ``*_env`` keys need."""

    path: Path
    env: dict[str, str] = field(default_factory=dict)
    store_path: Path | None = None

    def run(self, *args: str, input: str | None = None) -> Result:
        """``puq-bridge --config <file> ARGS`` through click's runner (stdout and stderr kept
        apart)."""
        return CliRunner().invoke(
            main,
            ["--config", str(self.path), *args],
            input=input,
            env=self.env,
            catch_exceptions=False,
        )

    def run_json(self, *args: str, input: str | None = None):
        """Run with ``--json`` appended and decode stdout, which must be exactly one JSON
        document."""
        result = self.run(*args, "--json", input=input)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout), result


def write_bridge(
    tmp_path: Path,
    whmcs_url: str,
    whmcs_secret: str,
    *,
    identifier: str = "whmcs-id",
    zimbras: list[ZimbraTarget] = (),
    timeout: float = 2,
) -> Bridge:
    """Write ``bridge.toml`` for a WHMCS at ``whmcs_url`` and the given Zimbras; secrets only via
    ``*_env``."""
    env = {WHMCS_SECRET_ENV: whmcs_secret}
    store_path = tmp_path / "data" / "usage.sqlite3"
    lines = [
        "[whmcs]",
        f'url = "{whmcs_url}"',
        f'identifier = "{identifier}"',
        f'secret_env = "{WHMCS_SECRET_ENV}"',
        f"timeout = {timeout}",
        "",
        "[store]",
        f'path = "{store_path}"',
        "",
    ]
    for i, z in enumerate(zimbras):
        var = f"PUQ_TEST_ZIMBRA_{i}_PASSWORD"
        env[var] = z.password
        server = z.whmcs_server if isinstance(z.whmcs_server, int) else f'"{z.whmcs_server}"'
        lines += [
            "[[zimbra]]",
            f'name = "{z.name}"',
            f"whmcs_server = {server}",
            f'url = "{z.url}"',
            f'admin_user = "{z.admin_user}"',
            f'password_env = "{var}"',
            f"timeout = {timeout}",
            "",
        ]
    path = tmp_path / "bridge.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return Bridge(path, env, store_path)


def one_error_line(result: Result) -> str:
    """The single ``error: ...`` line a failed command must print on stderr (and nothing on
    stdout)."""
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]
