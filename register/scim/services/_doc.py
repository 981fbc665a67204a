"""SCIM documents as data: attribute names read case-insensitively, filters, PATCH, projections."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from register.errors import InvalidInput
from register.i18n import N_
from register.scim.schemas import CORE_GROUP, CORE_USER, ENTERPRISE, SCHEMAS

READ_ONLY = frozenset({"id", "meta", "groups", "schemas"})
# Compared as written, not case-folded (RFC 7643: id and externalId are caseExact).
CASE_EXACT = frozenset({"id", "externalId", "$ref"})
MAX_TEXT = 2000
# The column that keeps it (and answers externalId eq by index).
MAX_EXTERNAL_ID = 320


def invalid(
    message: str, attribute: str, scim_type: str = "invalidValue", **params: Any
) -> InvalidInput:
    """A refusal naming the SCIM attribute, with SCIM's own error type."""
    return InvalidInput(
        message, field=attribute, params={"attribute": attribute, **params}, scim_type=scim_type
    )


def _definitions(urn: str) -> dict[str, dict[str, Any]]:
    return {a["name"].lower(): a for a in SCHEMAS[urn][2]}


def _check_value(definition: dict[str, Any], value: Any, where: str) -> Any:
    """One value of an attribute as its definition says, or a refusal naming it."""
    kind = definition["type"]
    if kind == "complex":
        if not isinstance(value, dict):
            raise invalid(N_("%(attribute)s must be an object"), where)
        subs = {s["name"].lower(): s for s in definition.get("subAttributes", [])}
        out = {}
        for key, sub_value in value.items():
            sub = subs.get(key.lower())
            if sub is None or sub_value is None:
                continue
            out[sub["name"]] = _check_value(sub, sub_value, f"{where}.{sub['name']}")
        return out
    if kind == "boolean":
        # Some providers (Entra ID) send booleans as the strings "True" and "False".
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise invalid(N_("%(attribute)s must be true or false"), where)
        return value
    if not isinstance(value, str):
        raise invalid(N_("%(attribute)s must be a string"), where)
    if len(value) > MAX_TEXT or "\x00" in value:
        raise invalid(
            N_("%(attribute)s is longer than %(limit)s characters or holds a NUL"),
            where,
            limit=MAX_TEXT,
        )
    return value


def _attribute(definition: dict[str, Any], value: Any, where: str) -> Any:
    if definition["multiValued"]:
        if not isinstance(value, list):
            raise invalid(N_("%(attribute)s must be a list"), where)
        items = [_check_value(definition, v, where) for v in value if v is not None]
        return [i for i in items if i != {}]
    return _check_value(definition, value, where)


def canonical(doc: Any, urn: str) -> dict[str, Any]:
    """The attributes the register keeps of a resource, named as its schema names them."""
    if not isinstance(doc, dict):
        raise invalid(N_("the body must be a JSON object"), "body", "invalidSyntax")
    core = _definitions(urn)
    ext = _definitions(ENTERPRISE) if urn == CORE_USER else {}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        lower = key.lower()
        if value is None:
            continue
        if ext and lower == ENTERPRISE.lower():
            if not isinstance(value, dict):
                raise invalid(N_("%(attribute)s must be an object"), ENTERPRISE)
            extension = {
                ext[k.lower()]["name"]: _attribute(
                    ext[k.lower()],
                    # Entra ID sends the manager as its id alone.
                    {"value": v} if k.lower() == "manager" and isinstance(v, str) else v,
                    ext[k.lower()]["name"],
                )
                for k, v in value.items()
                if k.lower() in ext and v is not None
            }
            extension = {k: v for k, v in extension.items() if v not in ({}, [])}
            if extension:
                out[ENTERPRISE] = extension
        elif lower == "externalid":
            out["externalId"] = _check_value({"type": "string"}, value, "externalId")
            if len(out["externalId"]) > MAX_EXTERNAL_ID:
                raise invalid(
                    N_("%(attribute)s is longer than %(limit)s characters or holds a NUL"),
                    "externalId",
                    limit=MAX_EXTERNAL_ID,
                )
        elif lower in core and core[lower]["mutability"] != "readOnly":
            checked = _attribute(core[lower], value, core[lower]["name"])
            if checked not in ({}, []):
                out[core[lower]["name"]] = checked
    return out


# Filters (RFC 7644 section 3.4.2.2): a tokenizer and a recursive-descent parser to a small tree.
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<punct>[()\[\]])|(?P<word>[^\s()\[\]"]+))'
)
OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"})


def _tokens(text: str, where: str) -> list[str]:
    tokens, at = [], 0
    text = text.strip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if not match or match.end() == at:
            raise invalid(N_("%(attribute)s cannot be read"), where, "invalidFilter")
        tokens.append(match.group(match.lastgroup or "word"))
        at = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, where: str) -> None:
        self.where = where
        self.tokens = _tokens(text, where)
        self.at = 0

    def fail(self) -> InvalidInput:
        return invalid(N_("%(attribute)s cannot be read"), self.where, "invalidFilter")

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.fail()
        self.at += 1
        return token

    def parse(self) -> tuple[Any, ...]:
        tree = self.or_()
        if self.peek() is not None:
            raise self.fail()
        return tree

    def or_(self) -> tuple[Any, ...]:
        tree = self.and_()
        while (self.peek() or "").lower() == "or":
            self.take()
            tree = ("or", tree, self.and_())
        return tree

    def and_(self) -> tuple[Any, ...]:
        tree = self.unary()
        while (self.peek() or "").lower() == "and":
            self.take()
            tree = ("and", tree, self.unary())
        return tree

    def unary(self) -> tuple[Any, ...]:
        token = self.take()
        if token.lower() == "not" and self.peek() == "(":
            self.take()
            inner = self.or_()
            if self.take() != ")":
                raise self.fail()
            return ("not", inner)
        if token == "(":
            inner = self.or_()
            if self.take() != ")":
                raise self.fail()
            return inner
        if token in ("(", ")", "[", "]") or token.startswith('"'):
            raise self.fail()
        if self.peek() == "[":
            self.take()
            inner = self.or_()
            if self.take() != "]":
                raise self.fail()
            return ("has", token, inner)
        op = self.take().lower()
        if op not in OPERATORS:
            raise self.fail()
        if op == "pr":
            return ("pr", token)
        raw = self.take()
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise self.fail() from exc
        return (op, token, value)


def parse_filter(text: str, where: str = "filter") -> tuple[Any, ...]:
    """A filter expression as a tree, or a refusal (400 invalidFilter)."""
    return _Parser(text, where).parse()


def split_path(path: str, urn: str) -> tuple[str | None, list[str]]:
    """(extension URN or None, attribute names) of an attribute path, its schema prefix removed."""
    lower = path.lower()
    for schema in (ENTERPRISE, urn, CORE_USER, CORE_GROUP):
        if lower == schema.lower():
            return (schema if schema == ENTERPRISE else None), []
        if lower.startswith(schema.lower() + ":"):
            rest = path[len(schema) + 1 :]
            return (schema if schema == ENTERPRISE else None), [p for p in rest.split(".") if p]
    return None, [p for p in path.split(".") if p]


def _get(node: Any, name: str) -> Any:
    if not isinstance(node, dict):
        return None
    for key, value in node.items():
        if key.lower() == name.lower():
            return value
    return None


def values_at(resource: dict[str, Any], path: str, urn: str) -> list[Any]:
    """Every value an attribute path reaches in a resource (multi-valued ones flattened)."""
    extension, names = split_path(path, urn)
    nodes: list[Any] = [resource.get(ENTERPRISE) if extension else resource]
    for name in names:
        found = []
        for node in nodes:
            value = _get(node, name)
            found.extend(value if isinstance(value, list) else [value])
        nodes = found
    flat = []
    for node in nodes:
        if isinstance(node, dict) and "value" in node and names:
            # A multi-valued attribute compared as a whole compares its values (emails eq "x").
            flat.append(node["value"])
        elif node is not None:
            flat.append(node)
    return flat


def _compare(op: str, have: Any, want: Any, exact: bool) -> bool:
    if isinstance(have, str) and isinstance(want, str) and not exact:
        have, want = have.casefold(), want.casefold()
    if op == "eq":
        return bool(have == want)
    if op == "ne":
        return bool(have != want)
    if not isinstance(have, str) or not isinstance(want, str):
        if op in ("gt", "ge", "lt", "le") and type(have) is type(want) and have is not None:
            return {"gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[
                op
            ]
        return False
    return {
        "co": want in have,
        "sw": have.startswith(want),
        "ew": have.endswith(want),
        "gt": have > want,
        "ge": have >= want,
        "lt": have < want,
        "le": have <= want,
    }[op]


def matches(tree: tuple[Any, ...], resource: Any, urn: str) -> bool:
    """Whether a resource (or one value of a multi-valued attribute) passes a filter."""
    kind = tree[0]
    if kind == "or":
        return matches(tree[1], resource, urn) or matches(tree[2], resource, urn)
    if kind == "and":
        return matches(tree[1], resource, urn) and matches(tree[2], resource, urn)
    if kind == "not":
        return not matches(tree[1], resource, urn)
    if kind == "has":
        items = values_at_raw(resource, tree[1], urn)
        return any(matches(tree[2], item, urn) for item in items)
    path = tree[1]
    exact = path.rsplit(".", 1)[-1].rsplit(":", 1)[-1] in CASE_EXACT
    values = values_at(resource, path, urn) if isinstance(resource, dict) else []
    if kind == "pr":
        return any(v not in ("", [], {}) for v in values)
    return any(_compare(kind, v, tree[2], exact) for v in values)


def values_at_raw(resource: dict[str, Any], path: str, urn: str) -> list[Any]:
    """The items of a multi-valued attribute (whole objects, for a filter in brackets)."""
    extension, names = split_path(path, urn)
    node: Any = resource.get(ENTERPRISE) if extension else resource
    for name in names:
        node = _get(node, name)
    return node if isinstance(node, list) else ([node] if node is not None else [])


def simple_equality(tree: tuple[Any, ...]) -> tuple[str, Any] | None:
    """(attribute, value) of a filter that is one `attribute eq value`, for a query by index."""
    if tree[0] == "eq" and isinstance(tree[2], str):
        _, names = split_path(tree[1], CORE_USER)
        if len(names) == 1:
            return names[0].lower(), tree[2]
    return None


# PATCH (RFC 7644 section 3.5.2): applied to the resource as data, which is then replaced whole.
_PATH = re.compile(r"^(?P<attr>[^\[\]]+?)(?:\[(?P<filter>.*)\])?(?:\.(?P<sub>[^.\[\]]+))?$")


def _key(node: dict[str, Any], name: str) -> str:
    for key in node:
        if key.lower() == name.lower():
            return key
    return name


def _merge(target: Any, value: Any) -> Any:
    if isinstance(target, dict) and isinstance(value, dict):
        merged = dict(target)
        for k, v in value.items():
            merged[_key(merged, k)] = v
        return merged
    return value


def _container(doc: dict[str, Any], extension: str | None) -> dict[str, Any]:
    if extension is None:
        return doc
    key = _key(doc, extension)
    node = doc.get(key)
    if not isinstance(node, dict):
        node = doc[key] = {}
    return node


def _apply(doc: dict[str, Any], op: str, path: str | None, value: Any, urn: str) -> None:
    if path is None:
        if op == "remove":
            raise invalid(N_("%(attribute)s: a remove needs a path"), "path", "noTarget")
        if not isinstance(value, dict):
            raise invalid(N_("%(attribute)s must be an object"), "value")
        for key, item in value.items():
            # {"name.givenName": "x"} and {"urn:...:User:department": "x"} are paths too. Okta
            # sends a group's id and schemas along with its new name: they change nothing.
            if key.lower() not in ("id", "schemas", "meta"):
                _apply(doc, op, key, item, urn)
        return
    # The schema's URN first: its "2.0" holds a dot that is no sub-attribute.
    extension, _ = split_path(path.strip(), urn)
    rest = path.strip()
    for schema in (ENTERPRISE, urn):
        if rest.lower() == schema.lower():
            rest = ""
        elif rest.lower().startswith(schema.lower() + ":"):
            rest = rest[len(schema) + 1 :]
    match = _PATH.match(rest) if rest else None
    if rest and not match:
        raise invalid(N_("%(attribute)s cannot be read"), "path", "invalidPath")
    names = [p for p in match["attr"].split(".") if p] if match else []
    if extension and not names:
        # The whole extension: its attributes, one by one.
        if op == "remove":
            doc.pop(_key(doc, ENTERPRISE), None)
            return
        if not isinstance(value, dict):
            raise invalid(N_("%(attribute)s must be an object"), ENTERPRISE)
        for key, item in value.items():
            # The extension's object may say its own schema; that is no attribute to set.
            if key.lower() != "schemas":
                _apply(doc, op, f"{ENTERPRISE}:{key}", item, urn)
        return
    if match is None or not names or len(names) > 2 or (match["filter"] and len(names) > 1):
        raise invalid(N_("%(attribute)s cannot be read"), "path", "invalidPath")
    top = names[0]
    if top.lower() in READ_ONLY:
        raise invalid(N_("%(attribute)s cannot be changed"), top, "mutability")
    sub = names[1] if len(names) > 1 else match["sub"]
    node = _container(doc, extension)
    key = _key(node, top)
    if match["filter"] is not None:
        tree = parse_filter(match["filter"], "path")
        items = node.get(key)
        items = items if isinstance(items, list) else []
        chosen = [i for i, item in enumerate(items) if matches(tree, item, urn)]
        if not chosen and op != "remove" and tree[0] == "eq" and "." not in tree[1]:
            # Entra ID sets emails[type eq "work"].value on a user who has no work e-mail yet.
            items.append({tree[1]: tree[2]})
            chosen = [len(items) - 1]
        if not chosen:
            raise invalid(N_("%(attribute)s: no value matches the path"), top, "noTarget")
        if op == "remove":
            if sub:
                for i in chosen:
                    if isinstance(items[i], dict):
                        items[i].pop(_key(items[i], sub), None)
            else:
                node[key] = [item for i, item in enumerate(items) if i not in chosen]
            return
        for i in chosen:
            if sub and isinstance(items[i], dict):
                items[i][_key(items[i], sub)] = value
            else:
                items[i] = _merge(items[i], value)
        node[key] = items
        return
    if sub:
        parent = node.get(key)
        if op == "remove":
            if isinstance(parent, dict):
                parent.pop(_key(parent, sub), None)
            elif isinstance(parent, list):
                for item in parent:
                    if isinstance(item, dict):
                        item.pop(_key(item, sub), None)
            return
        if isinstance(parent, list):
            for item in parent:
                if isinstance(item, dict):
                    item[_key(item, sub)] = value
            return
        parent = parent if isinstance(parent, dict) else {}
        parent[_key(parent, sub)] = value
        node[key] = parent
        return
    current = node.get(key)
    if op == "remove":
        if isinstance(current, list) and isinstance(value, list):
            # Entra ID removes members by value: {"path": "members", "value": [{"value": id}]}.
            gone = {str(_get(v, "value")) for v in value if isinstance(v, dict)}
            node[key] = [i for i in current if str(_get(i, "value")) not in gone]
        else:
            node.pop(key, None)
        return
    if op == "add" and isinstance(current, list):
        added = value if isinstance(value, list) else [value]
        node[key] = current + [v for v in added if v not in current]
    elif isinstance(current, dict) and isinstance(value, dict):
        node[key] = _merge(current, value)
    else:
        node[key] = value


def patch(doc: dict[str, Any], body: Any, urn: str) -> dict[str, Any]:
    """A resource's attributes after a PatchOp's operations, in order (all or nothing)."""
    if not isinstance(body, dict):
        raise invalid(N_("the body must be a JSON object"), "body", "invalidSyntax")
    operations = _get(body, "Operations")
    if not isinstance(operations, list) or not operations:
        raise invalid(N_("%(attribute)s must be a list of operations"), "Operations")
    result = copy.deepcopy(doc)
    for operation in operations:
        if not isinstance(operation, dict):
            raise invalid(N_("%(attribute)s must be a list of operations"), "Operations")
        op = str(_get(operation, "op") or "").lower()
        if op not in ("add", "remove", "replace"):
            raise invalid(N_("%(attribute)s must be add, remove or replace"), "op")
        path = _get(operation, "path")
        if path is not None and not isinstance(path, str):
            raise invalid(N_("%(attribute)s cannot be read"), "path", "invalidPath")
        _apply(result, op, path, copy.deepcopy(_get(operation, "value")), urn)
    return result


def project(
    resource: dict[str, Any], attributes: str | None, excluded: str | None, urn: str
) -> dict[str, Any]:
    """A resource with only the attributes asked for, or without the ones excluded."""
    always = {"id", "schemas"}
    if attributes:
        wanted = [split_path(a.strip(), urn) for a in attributes.split(",") if a.strip()]
        out: dict[str, Any] = {k: v for k, v in resource.items() if k in always}
        for extension, names in wanted:
            source = resource.get(ENTERPRISE) if extension else resource
            if not isinstance(source, dict):
                continue
            target = out.setdefault(ENTERPRISE, {}) if extension else out
            if not names:
                target.update(source)
                continue
            key = _key(source, names[0])
            if key not in source:
                continue
            if len(names) > 1 and isinstance(source[key], dict):
                sub = _key(source[key], names[1])
                if sub in source[key]:
                    target.setdefault(key, {})[sub] = source[key][sub]
            else:
                target[key] = source[key]
        if ENTERPRISE in out and not out[ENTERPRISE]:
            del out[ENTERPRISE]
        return out
    if excluded:
        out = copy.deepcopy(resource)
        for a in excluded.split(","):
            extension, names = split_path(a.strip(), urn)
            node = out.get(ENTERPRISE) if extension else out
            if not isinstance(node, dict):
                continue
            if not names:
                out.pop(ENTERPRISE, None)
            elif len(names) == 1 and names[0] not in always:
                node.pop(_key(node, names[0]), None)
            elif len(names) == 2 and isinstance(node.get(_key(node, names[0])), dict):
                node[_key(node, names[0])].pop(_key(node[_key(node, names[0])], names[1]), None)
        return out
    return resource
