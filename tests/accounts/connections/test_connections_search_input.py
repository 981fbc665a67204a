"""Search input: no text in `q` reaches the full-text query syntax or gives a server error."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import hypothesis
from hypothesis import strategies as st

from accounts.connections.files import import_connections
from accounts.connections.services import index_pending, search
from register.actor import Actor
from register.errors import InvalidInput
from register.staff.services import create_employee
from tests.helpers import assert_problem

WHEN = (dt.date.today() - dt.timedelta(days=30)).strftime("%d %b %Y")
HEADER = "First Name,Last Name,URL,Email Address,Company,Position,Connected On"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Characters with a meaning in FTS5 queries, LIKE/GLOB patterns or SQL strings, and controls.
SYNTAX = "\"'*^:()-+{}[],.;\\%_?NEARANDORNOT\x00\x01\t\n\r\x1b\x7f\x85\u2028\ufeff "


async def seed(owner: str = "Rita Reyes") -> int:
    """An employee with connections, half in the search index and half in the tail it scans."""
    person = await create_employee(
        actor=Actor.system("test"),
        data={
            "name": owner,
            "work_email": "rita@example.com",
            "start_date": dt.date.today() - dt.timedelta(days=900),
        },
    )
    for rows in (
        [
            f'Seán,O\'Neil,https://www.linkedin.com/in/sean,,"Back\\slash ""Q"" & 100% Co",Lead_Dev,{WHEN}',
            f"Ann,Other,https://www.linkedin.com/in/ann,,NEAR AND OR,Lead Dev,{WHEN}",
        ],
        [f"Zoë,Müller,https://www.linkedin.com/in/zoe,,Umbrella*,Head (People),{WHEN}"],
    ):
        content = (HEADER + "\n" + "\n".join(rows) + "\n").encode()
        await import_connections(
            actor=Actor.system("test"), employee_id=person["id"], content=content
        )
        if rows[0].startswith("Seán"):
            await index_pending()
    return person["id"]


async def test_a_nul_and_a_quote_in_q_is_a_422_naming_q(hr: httpx.AsyncClient) -> None:
    """The schemathesis find: NUL and a quote in q was a 500 from SQLite's FTS5 parser."""
    await seed()
    for q in ('abc\x00"def', "o'neil\x00\"", "lead\ndev", "tab\there", "\x85", "x\x1b[31m"):
        body = assert_problem(
            await hr.get("/api/v1/connections", params={"q": q}), 422, "invalid-input", "q"
        )
        assert body["field"] == "q"
    # The service refuses them too (the CLI and the pages call it without the API's checks).
    try:
        await search(limit=5, offset=0, q='abc\x00"def')
    except InvalidInput as exc:
        assert exc.extra["field"] == "q"
    else:
        raise AssertionError("a NUL in q reached the query")


async def test_fts_and_sql_syntax_in_q_is_text_to_find(hr: httpx.AsyncClient) -> None:
    """Quotes, FTS5 operators and wildcards are searched for literally, indexed or not."""
    await seed()
    for q, expected in (
        ('"q"', ["O'Neil"]),
        ('""q""', []),
        ('back\\slash "q"', ["O'Neil"]),
        ("NEAR AND OR", ["Other"]),
        ("near(", []),
        ("umbrella*", ["Müller"]),
        ("(people)", ["Müller"]),
        ("head (people)", ["Müller"]),
        ("^lead", []),
        ("lead_dev", ["O'Neil"]),
        ("rita reyes", ["Müller", "O'Neil", "Other"]),
        ("col:umn", []),
    ):
        resp = await hr.get("/api/v1/connections", params={"q": q})
        assert resp.status_code == 200, (q, resp.text)
        assert [i["last_name"] for i in resp.json()["items"]] == expected, q


@hypothesis.settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
@hypothesis.given(
    q=st.text(
        alphabet=st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(SYNTAX)),
        max_size=60,
    )
)
async def test_random_text_in_q_never_gives_a_server_error(
    hr: httpx.AsyncClient, app: Any, q: str
) -> None:
    """Whatever q holds: 200, or 422 naming q when it holds control characters."""
    if not getattr(app.state, "search_seeded", False):
        await seed()
        app.state.search_seeded = True
    resp = await hr.get("/api/v1/connections", params={"q": q, "limit": 5})
    assert resp.status_code < 500, (q, resp.text)
    if CONTROL.search(q):
        assert_problem(resp, 422, "invalid-input", "q")
    else:
        assert resp.status_code == 200, (q, resp.text)
