"""A throw-away PostgreSQL server for the tests, the way ``.ci/run`` starts one: its own data
directory in a temporary folder, listening on 127.0.0.1 at a free port and on a socket in that
folder, run as the ``postgres`` user when we are root (initdb and postgres refuse to run as root), a
random password for the superuser, no fsync (nothing in it needs to outlive the run). Stdlib only.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

#: The environment variable naming a server the tests may use as its superuser (CI exports it).
ENV_URL = "PUQ_TEST_POSTGRES_URL"

_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on ``PATH``, else Debian's
    ``/usr/lib/postgresql/<v>/bin``."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowAwayServer:
    """One PostgreSQL cluster in a temporary folder; :meth:`start` returns the superuser's URL.
    ``settings`` override the test settings (the bench turns fsync and synchronous commits back on).
    """

    def __init__(self, bin_dir: Path, *, settings: dict[str, str] | None = None):
        self.bin_dir = bin_dir
        self.settings = {**_SETTINGS, **(settings or {})}
        self.folder = Path(tempfile.mkdtemp(prefix="puq-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = _free_port()
        self.password = secrets.token_hex(12)
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        """``postgresql://postgres:<password>@127.0.0.1:<port>/postgres``."""
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip()} {log}")

    def start(self) -> str:
        """initdb, configure, start; returns :attr:`url`."""
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as_postgres:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        settings = {
            **_SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.folder}'",
        }
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "start")
        return self.url

    def restart(self) -> None:
        """Stop (fast: every connection is cut) and start again on the same port."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-m", "fast", "restart"
        )

    def halt(self) -> None:
        """Stop the server (fast: every connection is cut), keeping its data for :meth:`resume`."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def resume(self) -> None:
        """Start a halted server again, on the same port."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
