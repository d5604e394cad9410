"""The map of the code holds: dependencies point one way, and every line passes the linter.

cli → demo → whmcs_module → admin → clientarea / provisioning / signon / selfservice →
usage → whmcs / zimbra / simulators → errors / config / logs / http / units. A module may
import its own package and anything below it, never a package beside or above it — also
inside functions, where lazy imports live.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: rank of each part of the code; an import must go to a lower rank or stay in its own part.
RANKS = {
    "puq_bridge": 0,  # the package's __init__: its version; its public names load lazily, by name
    "puq_bridge.errors": 0,
    "puq_bridge.units": 0,
    "puq_bridge.templates": 0,
    "puq_bridge.logs": 1,
    "puq_bridge.config": 1,
    "puq_bridge.http": 1,
    "puq_bridge.whmcs": 2,
    "puq_bridge.zimbra": 2,
    "puq_bridge.simulators": 2,
    "puq_bridge.usage": 3,
    "puq_bridge.provisioning": 4,
    "puq_bridge.signon": 4,
    "puq_bridge.selfservice": 4,
    "puq_bridge.clientarea": 4,
    "puq_bridge.admin": 4.5,  # the addon page: above clientarea, whose formatter (Catalog) it uses
    "whmcs_module": 5,
    "puq_bridge.demo": 6,
    "puq_bridge.cli": 7,
}


def part(module: str) -> str:
    """The part of the map a dotted module name belongs to (its longest prefix in RANKS)."""
    pieces = module.split(".")
    for size in range(len(pieces), 0, -1):
        name = ".".join(pieces[:size])
        if name in RANKS and (name != "puq_bridge" or module == name):
            return name
    raise AssertionError(f"{module} is in no part of the map: add it to RANKS")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every project import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = module_name(path, root)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return [(line, m) for line, m in found if m.split(".")[0] in ("puq_bridge", "whmcs_module")]


def sources(root: Path) -> list[Path]:
    return sorted(
        p
        for folder in ("puq_bridge", "whmcs_module")
        for p in (root / folder).rglob("*.py")
        if "templates" not in p.relative_to(root).parts
    )


def violations(root: Path) -> list[str]:
    """Every import under ``root`` that goes to a part beside or above its own."""
    wrong = []
    for path in sources(root):
        source = part(module_name(path, root))
        for line, target in imports(path, root):
            to = part(target)
            if to != source and RANKS[to] >= RANKS[source]:
                wrong.append(f"{path.relative_to(root)}:{line}: {source} imports {target}")
    return wrong


def test_every_module_has_a_place_on_the_map():
    assert len(sources(ROOT)) > 40
    for path in sources(ROOT):
        part(module_name(path, ROOT))


def test_dependencies_point_one_way():
    assert violations(ROOT) == []


@pytest.mark.parametrize(
    "where, code, found",
    [
        ("puq_bridge/zimbra/client.py", "def f():\n    from puq_bridge.cli import main\n", True),
        ("puq_bridge/usage/store.py", "from puq_bridge.provisioning import Provisioner\n", True),
        ("puq_bridge/zimbra/client.py", "from puq_bridge.whmcs.params import SETTINGS\n", True),
        ("puq_bridge/usage/sync.py", "from ..zimbra.client import ZimbraAdmin\n", False),
        ("puq_bridge/cli/check.py", "import whmcs_module.adapter\n", False),
    ],
)
def test_the_check_finds_an_import_against_the_order(tmp_path, where, code, found):
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    path.write_text(code, encoding="utf-8")
    assert bool(violations(tmp_path)) is found


def test_the_linter_passes():
    """Lines at most 100 characters, no unused or undefined names, sorted imports (pyproject's
    [tool.ruff] settings). ruff comes with the test extra: pip install '.[test]'."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "puq_bridge", "whmcs_module"]
        + ["tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_no_merge_markers_are_left_in_the_tree():
    """A conflict marker left in a doc or a template reads as garbage to a user."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    marked = []
    for name in tracked:
        path = ROOT / name
        if path.suffix in (".png", ".jpg") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if any(line.startswith(("<<<<<<< ", ">>>>>>> ")) for line in text.splitlines()):
            marked.append(name)
    assert marked == []


def test_no_python_line_is_longer_than_100_characters():
    """ruff's E501 passes over a line that ends in a pragma comment (``# noqa``); this does not."""
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    long = [
        f"{name}:{number}"
        for name in tracked
        for number, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1)
        if len(line) > 100
    ]
    assert long == []
