"""The tree is the map: every part has the same shape, imports run one way, tables stay with their part."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("register", "accounts", "incidents")

# Who may use whom: a part imports only itself, the core and the parts below it.
LAYER = {
    "core": 0,
    "staff": 1,
    "notifications": 1,
    "scim": 2,
    # Between the directory it reads and the account register that reads its training.
    "policies": 1.5,
    "accounts": 2,
    "connections": 3,
    # Posts sit below handovers: a leaver's handover moves their post approvals and requests.
    "posts": 3.5,
    "handovers": 4,
    "incidents": 5,
}
PART_PACKAGES = {
    "staff": "register/staff",
    "notifications": "register/notifications",
    "scim": "register/scim",
    "policies": "register/policies",
    "accounts": "accounts",
    "connections": "accounts/connections",
    "handovers": "accounts/handovers",
    "posts": "accounts/posts",
    "incidents": "incidents",
}
# The one set of files a part is made of; a file that outgrows itself becomes a package of the
# same name with private modules behind __all__.
PART_FILES = {
    "__init__",
    "enums",
    "tables",
    "schemas",
    "services",
    "flows",
    "files",
    "api",
    "pages",
    "commands",
    "demo",
    "plugin",
    "piccolo_app",
}
MAX_LINES = 800


def part_of(module: str) -> str | None:
    """The part a dotted module name belongs to (None: not the register's)."""
    head, *rest = module.split(".")
    if head == "register":
        return (
            rest[0]
            if rest and rest[0] in ("staff", "notifications", "scim", "policies")
            else "core"
        )
    if head == "accounts":
        return rest[0] if rest and rest[0] in ("connections", "handovers", "posts") else "accounts"
    return "incidents" if head == "incidents" else None


def module_name(path: Path) -> str:
    """The dotted name of a source file."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> list[Path]:
    """Every Python file of the register but the generated migrations."""
    return sorted(
        f
        for top in SOURCES
        for f in (ROOT / top).rglob("*.py")
        if "piccolo_migrations" not in f.parts
    )


def table_owners() -> dict[str, str]:
    """Table name -> owning part, from every part's tables.py (and the search index it makes)."""
    owners = {"connection_search": "connections", "connection_fts": "connections"}
    for f in source_files():
        if f.name == "tables.py":
            for name in re.findall(r'tablename="(\w+)"', f.read_text()):
                owners[name] = part_of(module_name(f)) or ""
    return owners


def test_imports_run_one_way() -> None:
    """No module imports a part above its own (the core none at all), at any depth."""
    wrong = []
    for f in source_files():
        me = part_of(module_name(f))
        assert me is not None
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                other = part_of(node.module)
                if other and other != me and LAYER[other] >= LAYER[me]:
                    wrong.append(f"{module_name(f)}:{node.lineno} ({me}) imports {node.module}")
    assert not wrong, "\n".join(wrong)


def test_no_part_touches_another_parts_tables() -> None:
    """Table classes and SQL stay with their part; tables.py may name another's for a foreign key."""
    owners = table_owners()
    wrong = []
    sql = re.compile(r'\b(?:FROM|JOIN|INTO|UPDATE)\s+"?(\w+)"?')
    for f in source_files():
        me = part_of(module_name(f))
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and f.name != "tables.py":
                other = part_of(node.module)
                if other is not None and other != me and node.module.endswith(".tables"):
                    wrong.append(f"{module_name(f)}:{node.lineno} imports {node.module}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for table in sql.findall(node.value):
                    if table in owners and owners[table] != me:
                        wrong.append(
                            f"{module_name(f)}:{node.lineno} ({me}) has SQL on {owners[table]}'s "
                            f"{table}"
                        )
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_wrong_import_and_a_foreign_table() -> None:
    """The two checks above are not vacuous: they know whose tables and modules are whose."""
    owners = table_owners()
    assert owners["employee"] == "staff"
    assert owners["social_account"] == "accounts"
    assert owners["handover"] == "handovers"
    assert owners["incident"] == "incidents"
    assert owners["audit_event"] == "core"
    assert part_of("register.staff.services") == "staff"
    assert part_of("register.audit") == "core"
    assert part_of("accounts.handovers.flows._start") == "handovers"
    assert LAYER[part_of("incidents.services")] > LAYER[part_of("accounts.services")]


@pytest.mark.parametrize("part", sorted(PART_PACKAGES))
def test_every_part_has_the_same_shape(part: str) -> None:
    """A part holds only files of the one set (or packages of those names), and says what it is."""
    folder = ROOT / PART_PACKAGES[part]
    init = folder / "__init__.py"
    docstring = ast.get_docstring(ast.parse(init.read_text()))
    assert docstring, f"{init} has no docstring saying what lives there"
    nested = {
        Path(p).name for p in PART_PACKAGES.values() if p.startswith(PART_PACKAGES[part] + "/")
    }
    odd = []
    for entry in folder.iterdir():
        name = entry.name
        if entry.is_dir():
            if name in nested or name in ("piccolo_migrations", "playbooks", "templates", "static"):
                continue
            if name == "__pycache__":
                continue
            if name not in PART_FILES:
                odd.append(name)
                continue
            modules = [m.stem for m in entry.glob("*.py") if m.stem != "__init__"]
            odd += [f"{name}/{m}" for m in modules if not m.startswith("_")]
        elif entry.suffix == ".py" and entry.stem not in PART_FILES:
            odd.append(name)
    assert not odd, f"{part}: outside the fixed set of files: {odd}"
    for required in ("plugin.py", "api.py", "services"):
        assert (folder / required).exists() or (folder / f"{required}.py").exists(), required


def test_no_module_is_over_800_lines() -> None:
    """A module that grows past this is split (private modules behind __all__)."""
    long = [
        f"{f.relative_to(ROOT)}: {n}"
        for f in source_files()
        if (n := len(f.read_text().splitlines())) > MAX_LINES
    ]
    assert not long, long


def test_package_facades_name_everything_they_export() -> None:
    """A services/ or flows/ package re-exports its private modules' names through __all__."""
    for f in source_files():
        if f.name != "__init__.py" or f.parent.name not in ("services", "flows"):
            continue
        tree = ast.parse(f.read_text())
        imported = {
            a.asname or a.name
            for n in tree.body
            if isinstance(n, ast.ImportFrom) and n.module != "__future__"
            for a in n.names
        }
        exported = next(
            (
                set(ast.literal_eval(n.value))
                for n in tree.body
                if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__all__"
            ),
            None,
        )
        assert exported is not None, f"{f} has no __all__"
        assert imported == exported, (
            f"{f}: imported, not exported {imported - exported}; "
            f"exported, not imported {exported - imported}"
        )
