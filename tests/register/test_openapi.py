"""Operation declarations shared by every part: text query parameters refuse control characters."""

from __future__ import annotations

import re
from typing import Any

import httpx

from register.actor import Actor
from register.scim.services import create_token as create_scim_token
from tests.helpers import assert_problem

# What a text parameter must refuse (C0 controls, DEL, C1 controls, a final newline) and accept.
REFUSED = ["a\x00b", "a\x01b", "tab\there", "line\n", "\x7f", "next\x85line"]
ACCEPTED = ["Ana O'Neil", 'say "hi"', "Zoë Müller", "100%_\\*"]


def _free_text(schema: dict[str, Any]) -> bool:
    """Whether a parameter's schema is a string of any content (not an enum, date or id pattern)."""
    branches = schema.get("oneOf", [schema])
    strings = [b for b in branches if b.get("type") == "string"]
    arrays = [b for b in branches if b.get("type") == "array"]
    if arrays:
        strings = [a["items"] for a in arrays if a["items"].get("type") == "string"]
    return any("format" not in s and "enum" not in s for s in strings)


def _patterns(schema: dict[str, Any]) -> list[str]:
    """The patterns a value (or each item of a repeated parameter) must match."""
    found = [schema.get("pattern"), schema.get("items", {}).get("pattern")]
    for branch in schema.get("oneOf", []):
        found += [branch.get("pattern"), branch.get("items", {}).get("pattern")]
    return [p for p in found if p]


async def text_parameters(client: httpx.AsyncClient) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, name, schema) of every free-text query parameter of a GET in the document."""
    doc = (await client.get("/schema/openapi.json")).json()
    found = []
    for path, operations in doc["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["in"] == "query" and _free_text(parameter["schema"]):
                found.append((path, parameter["name"], parameter["schema"]))
    return found


async def test_every_text_query_parameter_refuses_control_characters(
    client: httpx.AsyncClient,
) -> None:
    """Each part's free-text query parameters carry the shared pattern (Text() / Texts())."""
    found = await text_parameters(client)
    names = {(path, name) for path, name, _ in found}
    assert ("/api/v1/connections", "q") in names and ("/api/v1/accounts", "q") in names
    assert ("/api/v1/employees/{employee_id}/footprint", "email") in names
    for path, name, schema in found:
        patterns = _patterns(schema)
        # A parameter with a narrow pattern of its own (hex ids, due|overdue) is fine as it is.
        assert patterns, f"{path} ?{name}= takes any text, control characters included"
        for pattern in patterns:
            for value in REFUSED:
                assert re.search(pattern, value) is None, (path, name, value)


async def test_a_control_character_in_a_text_parameter_is_a_422_naming_it(
    admin: httpx.AsyncClient,
) -> None:
    """Over HTTP, on both databases: 422 naming the parameter, never a 500 from the database.

    SCIM's parameters are sent by the identity provider (a SCIM token) and refused in SCIM's own
    error: 400 invalidValue, its detail naming the parameter.
    """
    _, token = await create_scim_token(actor=Actor.system("test"), name="openapi test")
    provider = {"Authorization": f"Bearer {token}"}
    found = await text_parameters(admin)
    for path, name, schema in found:
        if not any(re.search(p, ACCEPTED[0]) for p in _patterns(schema)):
            continue  # a narrow pattern (hex ids): nothing free to send
        url = re.sub(r"\{[^}]+\}", "1", path)
        scim = path.startswith("/scim/")
        for value in REFUSED:
            resp = await admin.get(url, params={name: value}, headers=provider if scim else {})
            if scim:
                assert resp.status_code == 400, (path, value, resp.text)
                body = resp.json()
                assert body["scimType"] == "invalidValue", body
                assert body["detail"].startswith(f"{name}:"), (path, value, body)
                continue
            body = assert_problem(resp, 422, "invalid-input", name)
            assert body["field"] == name, (path, value, body)
        for value in ACCEPTED:
            # Text the pattern lets through may still be wrong for the parameter (an unknown
            # risk kind), but it is never a server error.
            resp = await admin.get(url, params={name: value}, headers=provider if scim else {})
            assert resp.status_code < 500, (path, name, value, resp.text)
