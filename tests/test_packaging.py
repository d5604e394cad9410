"""The wheel a user installs carries every data file the code reads (templates, catalogs, forwarder,
WSDL)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = [
    ("templates", "puq_bridge/templates"),
    ("puq_bridge/zimbra/wsdl", "puq_bridge/zimbra/wsdl"),
]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        cwd=build,
    )
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed: {proc.stderr.strip()[-500:]}")
    (wheel,) = out.glob("puq_bridge-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


@pytest.mark.parametrize("source, target", DATA)
def test_wheel_ships_every_data_file(wheel_names, source, target):
    files = [p for p in (ROOT / source).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert files, f"nothing found under {source}"
    missing = [
        str(p.relative_to(ROOT))
        for p in files
        if f"{target}/{p.relative_to(ROOT / source).as_posix()}" not in wheel_names
    ]
    assert not missing, f"not in the wheel: {missing}"


def test_wheel_has_the_console_script_and_packages(wheel_names):
    assert any(n.endswith("entry_points.txt") for n in wheel_names)
    for package in (
        "puq_bridge/cli/__init__.py",
        "puq_bridge/admin/__init__.py",
        "puq_bridge/simulators/__init__.py",
        "whmcs_module/__init__.py",
    ):
        assert package in wheel_names
