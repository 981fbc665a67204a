"""The import reads its file as a stream: memory stays flat in the file's size, and nothing else changes."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path

import httpx
import pytest

from accounts.connections.files import _import as files
from accounts.connections.files import import_connections
from register.actor import Actor
from register.db import fetch
from tests.accounts.connections.test_connections import (
    TODAY,
    all_connections,
    hand_made,
    linkedin_export,
    staff,
    upload,
)
from tests.helpers import assert_problem

__all__ = ["staff"]

WHEN = (TODAY - dt.timedelta(days=20)).strftime("%d %b %Y")


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of a few rows, and keys past a few in the temporary table, so small files cross both."""
    monkeypatch.setattr(files, "BATCH_ROWS", 2)
    monkeypatch.setattr(files, "KEYS_IN_MEMORY", 3)


async def test_memory_stays_flat_in_the_file_size(
    hr: httpx.AsyncClient, staff: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4 MB export read from disk: the import allocates less than twice the file at its peak
    (reading it whole took ten times the file: its text, every row, the rows to insert)."""
    monkeypatch.setattr(files, "BATCH_ROWS", 1000)
    monkeypatch.setattr(files, "KEYS_IN_MEMORY", 5000)
    path = tmp_path / "Connections.csv"
    path.write_bytes(
        linkedin_export(38_000, seed=31, since=TODAY - dt.timedelta(days=900), until=TODAY)
    )
    size = path.stat().st_size
    assert size > 3.5 * 2**20
    tracemalloc.start()
    try:
        with path.open("rb") as content:
            result = await import_connections(
                actor=Actor.system("test"), employee_id=staff["rec"]["id"], content=content
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["import"]["added"] == 38_000
    # A batch of rows and the keys kept in memory, whatever the file's size.
    assert peak < 2 * size, f"peak {peak / 2**20:.1f} MB for a {size / 2**20:.1f} MB file"


async def test_duplicates_across_batches_are_merged_on_both_databases(
    hr: httpx.AsyncClient, staff: dict, small_batches: None
) -> None:
    """A person repeated batches apart (keys in the temporary table by then) is still one."""
    people = [f"P{n},Q,https://www.linkedin.com/in/p{n},,Acme,CFO,{WHEN}" for n in range(7)]
    content = hand_made(
        *people[:5],
        people[0].replace("/in/p0", "/in/P0/"),
        people[5],
        people[3],
        f"Old,Layout,https://www.linkedin.com/in/p6,,Acme,CFO,{WHEN}",
        people[6],
        people[1],
    )
    resp = await upload(hr, staff["rec"]["id"], content)
    assert resp.status_code == 200, resp.text
    summary = resp.json()["import"]
    assert (summary["rows"], summary["added"], summary["duplicates_in_file"]) == (11, 7, 4)
    held = await all_connections(hr, staff["rec"]["id"])
    assert sorted(i["first_name"] for i in held) == ["Old", *[f"P{n}" for n in range(6)]]
    # The temporary table went with the import.
    if files.is_postgres():
        left = await fetch("SELECT count(*) AS n FROM pg_tables WHERE schemaname LIKE 'pg_temp%'")
    else:
        left = await fetch("SELECT count(*) AS n FROM sqlite_temp_master WHERE type = 'table'")
    assert left[0]["n"] == 0


async def test_a_problem_late_in_the_file_rolls_back_what_was_written(
    hr: httpx.AsyncClient, admin: httpx.AsyncClient, staff: dict, small_batches: None
) -> None:
    """Rows written batch by batch are undone when the file turns out broken at its end."""
    rows = [f"P{n},Q,https://www.linkedin.com/in/p{n},,Acme,CFO,{WHEN}" for n in range(9)]
    rec = staff["rec"]["id"]
    trail = (await admin.get("/api/v1/audit/events", params={"limit": 200})).json()["items"]
    for content in (
        hand_made(*rows, 'Ana,Silva,https://www.linkedin.com/in/ana,,"Acme, Inc.,CFO,' + WHEN),
        hand_made(*rows) + b"Nul,Byte,https://www.linkedin.com/in/nul,,A\x00,B," + WHEN.encode(),
        hand_made(*rows[:2], *[r.replace(WHEN, "someday") for r in rows[2:]]),
    ):
        assert_problem(await upload(hr, rec, content), 422, "invalid-input", "file")
        assert await all_connections(hr, rec) == []
        assert (await fetch('SELECT count(*) AS n FROM "connection_import"'))[0]["n"] == 0
        assert (await fetch('SELECT count(*) AS n FROM "connection_rejected_line"'))[0]["n"] == 0
    after = (await admin.get("/api/v1/audit/events", params={"limit": 200})).json()["items"]
    assert [e["seq"] for e in after] == [e["seq"] for e in trail]


async def test_the_same_file_twice_is_known_by_the_digest_taken_while_reading(
    hr: httpx.AsyncClient, staff: dict, small_batches: None
) -> None:
    """The second upload answers the first import; what reading it wrote is rolled back."""
    content = linkedin_export(9, seed=5, since=TODAY - dt.timedelta(days=400), until=TODAY)
    first = await upload(hr, staff["rec"]["id"], content)
    second = await upload(hr, staff["rec"]["id"], content)
    assert second.json() == {"duplicate": True, "import": first.json()["import"], "problems": []}
    assert (await fetch('SELECT count(*) AS n FROM "connection_import"'))[0]["n"] == 1
    assert len(await all_connections(hr, staff["rec"]["id"])) == 9


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
async def test_every_encoding_reads_the_same(
    hr: httpx.AsyncClient, staff: dict, encoding: str, small_batches: None
) -> None:
    """UTF-8 with or without BOM, Windows-1252 and UTF-16: the same names, decoded as a stream."""
    names = ["Zoë,Müller", "Chloé,Dubois", "Søren,Bakker", "Ana,Silva", "Łukasz,Wójcik"]
    rows = [
        f"{name},https://www.linkedin.com/in/p{n},,Café Crème,Señor Dev,{WHEN}"
        for n, name in enumerate(names)
        if encoding != "cp1252" or "Ł" not in name
    ]
    text = hand_made(*rows).decode()
    resp = await upload(hr, staff["rec"]["id"], text.encode(encoding))
    assert resp.status_code == 200, resp.text
    held = await all_connections(hr, staff["rec"]["id"])
    assert sorted(f"{i['first_name']},{i['last_name']}" for i in held) == sorted(
        r.split(",https")[0] for r in rows
    )
    assert {i["company"] for i in held} == {"Café Crème"}


async def test_an_upload_with_an_idempotency_key_is_streamed_and_replayed(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """A key makes the body pass through a file, not memory, and the retry gets the first answer."""
    content = linkedin_export(15_000, seed=8, since=TODAY - dt.timedelta(days=900), until=TODAY)
    assert len(content) > 1.5 * 2**20
    url = f"/api/v1/employees/{staff['rec']['id']}/connections/imports"
    headers = {"Idempotency-Key": "connections-1"}
    files_ = {"file": ("Connections.csv", content, "text/csv")}
    first = await hr.post(url, files=files_, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["import"]["added"] == 15_000
    again = await hr.post(url, files=files_, headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    changed = {"file": ("Connections.csv", content[:-30], "text/csv")}
    assert_problem(
        await hr.post(url, files=changed, headers=headers), 422, "idempotency-key-reused"
    )


async def test_an_idempotency_key_does_not_hold_the_upload_in_memory(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """The key's middleware hashes the body as it comes and keeps it in a file, not in memory."""
    content = linkedin_export(40_000, seed=9, since=TODAY - dt.timedelta(days=400), until=TODAY)
    peaks = {}
    for who, headers in (("rec", {}), ("succ", {"Idempotency-Key": "big-upload"})):
        url = f"/api/v1/employees/{staff[who]['id']}/connections/imports"
        tracemalloc.start()
        try:
            resp = await hr.post(
                url, files={"file": ("Connections.csv", content, "text/csv")}, headers=headers
            )
            peaks[who] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert resp.status_code == 200 and resp.json()["import"]["added"] == 40_000, resp.text
    # Holding the body took it twice over (its chunks, then joined); a spool holds 1 MB of it.
    assert peaks["succ"] < peaks["rec"] + len(content) / 2, (len(content), peaks)
