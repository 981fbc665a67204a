"""Every refusal the register raises can be said in the reader's language.

The API answers a RegisterError's message in English, filled in with its params; a page says the
same message from the catalogue. That only works when the message is a catalogue entry: a `N_()`
literal (or a name bound only to such literals), with what varies passed as `params`. An f-string,
a `%` or a concatenation bakes the English into the message, and no catalogue can translate it.

This walks the source of `register/` and `accounts/`: every call of a RegisterError class, and of
every function that hands one of its own parameters to such a call as the message (`_fail(message)`),
must pass its message that way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from register import errors

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("register", "accounts", "incidents")


@dataclass
class Site:
    """One call that passes a message, and where it is."""

    path: str
    line: int
    callee: str
    message: ast.expr | None
    function: ast.FunctionDef | ast.AsyncFunctionDef | None
    module: ast.Module


def _sources() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text(encoding="utf-8"))
        for part in PARTS
        for path in sorted((ROOT / part).rglob("*.py"))
        # errors.py is the mechanism itself (InvalidValue hands its marked message on).
        if "piccolo_migrations" not in path.parts and path != ROOT / "register" / "errors.py"
    }


def _error_classes(trees: dict[str, ast.Module]) -> set[str]:
    """The register's errors, a parser's InvalidValue, and every class derived from them, by name."""
    names = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.RegisterError | errors.InvalidValue)
    }
    grown = True
    while grown:
        grown = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {
                        b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                        for b in node.bases
                    }
                    if bases & names:
                        names.add(node.name)
                        grown = True
    return names


def _name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _message(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return None


def _knows(tree: ast.Module, path: str, name: str, home: str | None) -> bool:
    """Whether `name` in this module is the callee defined at `home` (None: an error class).

    A message-passing function counts in its own module and where it is imported; a module's
    own function of the same name (another `_fail`) is another function.
    """
    defines = any(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
        for n in ast.walk(tree)
    )
    if home is None or path == home:
        return home is not None or not defines
    imports = any(
        isinstance(n, ast.ImportFrom) and any((a.asname or a.name) == name for a in n.names)
        for n in ast.walk(tree)
    )
    return imports and not defines


def _calls(
    trees: dict[str, ast.Module],
    callees: dict[str, tuple[int, str]],
    homes: dict[str, str] | None = None,
) -> Iterator[Site]:
    """Each call of a callee (name -> position and keyword of its message), with its function."""
    homes = homes or {}
    for path, tree in trees.items():
        known = {name for name in callees if _knows(tree, path, name, homes.get(name))}
        functions = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        owner: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        # Innermost function wins: walk outer ones first, inner ones overwrite.
        for function in sorted(functions, key=lambda f: (f.lineno, -(f.end_lineno or 0))):
            for node in ast.walk(function):
                owner[id(node)] = function
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (name := _name(node)) in known:
                position, keyword = callees[name]
                yield Site(
                    path,
                    node.lineno,
                    name,
                    _message(node, position, keyword),
                    owner.get(id(node)),
                    tree,
                )


def _is_marked(expr: ast.expr) -> bool:
    """A `N_("...")` literal, or a choice between such literals."""
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "N_":
        return len(expr.args) == 1 and isinstance(expr.args[0], ast.Constant)
    if isinstance(expr, ast.IfExp):
        return _is_marked(expr.body) and _is_marked(expr.orelse)
    return False


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = function.args
    return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]


def _assigned(name: str, nodes: list[ast.stmt] | ast.AST) -> list[ast.expr]:
    """The values assigned to `name` in a function (walked whole) or among module statements."""
    found = ast.walk(nodes) if isinstance(nodes, ast.AST) else iter(nodes)
    return [
        node.value
        for node in found
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and node.value is not None
        and any(
            isinstance(t, ast.Name) and t.id == name
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]


def _all_strings_marked(value: ast.expr) -> bool:
    """Whether every text literal in a value (a table of messages) is inside a `N_()`."""
    marked = {
        id(node.args[0])
        for node in ast.walk(value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "N_"
    }
    texts = [n for n in ast.walk(value) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return bool(texts) and all(id(t) in marked for t in texts)


def _bound_to_marked(
    name: str, function: ast.FunctionDef | ast.AsyncFunctionDef | None, module: ast.Module
) -> bool:
    """Whether `name` holds only marked literals: assigned them, or looping over a table of them."""
    values = _assigned(name, function) if function is not None else []
    if not values:
        values = _assigned(name, module.body)
    if values:
        return all(_is_marked(v) for v in values)
    loops = [
        node
        for node in ast.walk(function or module)
        if isinstance(node, ast.For)
        and any(isinstance(t, ast.Name) and t.id == name for t in ast.walk(node.target))
    ]
    tables = [
        _assigned(loop.iter.id, module.body) for loop in loops if isinstance(loop.iter, ast.Name)
    ]
    return (
        bool(loops)
        and len(tables) == len(loops)
        and all(table and all(_all_strings_marked(v) for v in table) for table in tables)
    )


def _judge(trees: dict[str, ast.Module]) -> tuple[list[str], dict[str, tuple[int, str]]]:
    """The calls whose message cannot be translated, and the message-passing functions found."""
    callees: dict[str, tuple[int, str]] = {name: (0, "detail") for name in _error_classes(trees)}
    # Where each message-passing function is defined (error classes are known everywhere).
    homes: dict[str, str] = {}
    while True:
        wrong: list[str] = []
        found: dict[str, tuple[int, str, str]] = {}
        for site in _calls(trees, callees, homes):
            expr = site.message
            if expr is None or _is_marked(expr):
                continue
            if isinstance(expr, ast.Name):
                if _bound_to_marked(expr.id, site.function, site.module):
                    continue
                if site.function is not None and expr.id in (params := _parameters(site.function)):
                    # A function that passes its own parameter on as the message: its callers
                    # are judged instead.
                    position = params.index(expr.id)
                    if params and params[0] in ("self", "cls"):
                        position -= 1
                    found.setdefault(site.function.name, (position, expr.id, site.path))
                    continue
            wrong.append(f"{site.path}:{site.line} {site.callee}({ast.unparse(expr)[:80]})")
        if set(found) <= set(callees):
            return wrong, callees
        for name, (position, keyword, home) in found.items():
            callees[name], homes[name] = (position, keyword), home


def test_every_register_error_message_is_a_catalogue_entry() -> None:
    """A message baked into English (f-string, %, +, str(exc)) fails here, with where it is."""
    wrong, _ = _judge(_sources())
    assert not wrong, "messages a page cannot translate:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "source",
    [
        'raise InvalidInput(f"no account {account_id}")',
        'raise Conflict("account " + str(account_id) + " is retired")',
        'raise NotFound("no account %s" % account_id)',
        'raise Conflict("retired")',
        "raise InvalidInput(str(exc), field='x')",
        'raise InvalidValue(f"unknown platform {raw}")',
        'SIGNS = ((b"PK", "a ZIP"),)\nfor sign, text in SIGNS:\n    raise InvalidInput(text)',
        'def _fail(message):\n    return InvalidInput(message)\n_fail("plain English")',
    ],
)
def test_the_walk_finds_an_english_only_message(source: str) -> None:
    """Each way of baking the English in is caught (the test above can fail)."""
    wrong, _ = _judge({"example.py": ast.parse(source)})
    assert wrong


def test_the_walk_accepts_a_marked_message_with_params() -> None:
    """A marked message, a name bound to marked ones, and a helper called with one pass."""
    source = (
        'raise InvalidInput(N_("no account %(id)s"), params={"id": account_id})\n'
        "def check(retired):\n"
        '    message = N_("retired") if retired else N_("gone")\n'
        "    raise Conflict(message)\n"
        "def _fail(message, **params):\n"
        "    return InvalidInput(message, params=params)\n"
        '_fail(N_("bad %(x)s"), x=1)\n'
        'SIGNS = ((b"PK", N_("a ZIP")),)\n'
        "for sign, text in SIGNS:\n"
        "    raise InvalidInput(text)\n"
        'LATE = N_("late")\n'
        "raise Conflict(LATE)\n"
    )
    wrong, callees = _judge({"example.py": ast.parse(source)})
    assert not wrong
    assert callees["_fail"] == (0, "message")
