"""Third parties' data: subject access, erasure everywhere, and the retention purge."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from accounts.connections.enums import ConnectionState
from accounts.connections.files import (
    normalise_profile_url,
    subject_digests,
)
from accounts.connections.services._connections import (
    CONNECTION_COLUMNS,
    PERSONAL_FIELDS,
)
from accounts.connections.services._search import _unindex
from register import audit
from register.actor import Actor
from register.checks import EMAIL_RE
from register.db import fetch, is_postgres, now, write_transaction
from register.errors import InvalidInput, InvalidValue
from register.extensions import extensions
from register.i18n import N_
from register.settings import Settings
from register.staff.services import employees_by_id, left_before


def _subject(profile_url: str | None, email: str | None) -> tuple[str, str]:
    """The person asked about, normalised: (profile URL, e-mail); at least one is given."""
    url = (profile_url or "").strip()
    mail = (email or "").strip().lower()
    if not url and not mail:
        raise InvalidInput(N_("give the person's profile_url or email"), field="profile_url")
    if url:
        try:
            url = normalise_profile_url(url)
        except InvalidValue as exc:
            raise exc.refusal("profile_url") from exc
        except ValueError as exc:
            # urlsplit's own refusal (a broken IPv6 host, say) says the same to the person.
            raise InvalidInput(
                N_("'%(url)s' is not a LinkedIn profile URL"),
                field="profile_url",
                params={"url": url},
            ) from exc
    if mail and not EMAIL_RE.match(mail):
        raise InvalidInput(
            N_("'%(email)s' is not an e-mail address"), field="email", params={"email": email}
        )
    return url, mail


async def _subject_rows(url: str, mail: str) -> list[dict[str, Any]]:
    where, args = [], []
    if url:
        args.append(url)
        where.append(f'c."profile_url" = ${len(args)}')
    if mail:
        args.append(mail)
        where.append(f'c."email" = ${len(args)}')
    rows = await fetch(
        f"SELECT {CONNECTION_COLUMNS}, "
        'i."filename" AS "import_filename", i."imported_at" AS "import_imported_at" '
        'FROM "connection" c JOIN "connection_import" i ON i."id" = c."source_import" '
        f'WHERE ({" OR ".join(where)}) ORDER BY c."id"',
        *args,
    )
    owners = await employees_by_id(r["employee_id"] for r in rows)
    for r in rows:
        r["owner_name"] = owners[r["employee_id"]]["name"]
        r["owner_email"] = owners[r["employee_id"]]["work_email"]
    return rows


def _rejected_where(url: str, mail: str, alias: str = "") -> tuple[str, list[Any]]:
    """Condition on rejected lines about the person (their URL or e-mail as the import read it)."""
    column = f"{alias}." if alias else ""
    where, args = [], []
    if url:
        args.append(url)
        where.append(f'{column}"match_url" = ${len(args)}')
    if mail:
        args.append(mail)
        where.append(f'{column}"match_email" = ${len(args)}')
    return "(" + " OR ".join(where) + ")", args


async def _subject_rejected_lines(url: str, mail: str) -> list[dict[str, Any]]:
    where, args = _rejected_where(url, mail, "r")
    return await fetch(
        'SELECT r."source_import" AS "import_id", i."employee" AS "employee_id", r."line", '
        'r."reason", r."first_name", r."last_name", r."url", r."email", r."company", '
        'r."position", r."connected_on" FROM "connection_rejected_line" r '
        'JOIN "connection_import" i ON i."id" = r."source_import" '
        f'WHERE {where} ORDER BY r."id"',
        *args,
    )


async def subject_access(
    *, actor: Actor, profile_url: str | None = None, email: str | None = None
) -> dict[str, Any]:
    """Everything the register holds about one person, found by profile URL or e-mail."""
    url, mail = _subject(profile_url, email)
    rows = await _subject_rows(url, mail)
    rejected = await _subject_rejected_lines(url, mail)
    async with write_transaction():
        # That a request was answered, and how much it found; never who it was about.
        await audit.record(
            actor,
            "connection.subject_access",
            "subject",
            "",
            {"connections": len(rows), "rejected_lines": len(rejected)},
        )
    return {
        "rejected_lines": rejected,
        "profile_url": url,
        "email": mail,
        "count": len(rows),
        "connections": [
            {
                **{k: r[k] for k in r if not k.startswith(("owner_", "import_"))},
                "import_id": r["import_id"],
                "owner": {
                    "employee_id": r["employee_id"],
                    "name": r["owner_name"],
                    "work_email": r["owner_email"],
                },
                "import": {
                    "id": r["import_id"],
                    "filename": r["import_filename"],
                    "imported_at": r["import_imported_at"],
                },
            }
            for r in rows
        ],
        "generated_at": now(),
    }


async def erasure_preview(
    *, profile_url: str | None = None, email: str | None = None
) -> dict[str, Any]:
    """What erasing one person would take, to confirm first: their records and whose; nothing written."""
    url, mail = _subject(profile_url, email)
    rows = [r for r in await _subject_rows(url, mail) if r["state"] != ConnectionState.erased.value]
    where, args = _rejected_where(url, mail)
    lines = await fetch(
        f'SELECT COUNT(*) AS "n" FROM "connection_rejected_line" WHERE {where}', *args
    )
    owners = {r["employee_id"]: r["owner_name"] for r in rows}
    return {
        "profile_url": url,
        "email": mail,
        "connections": len(rows),
        "names": sorted({f"{r['first_name']} {r['last_name']}".strip() for r in rows}),
        "owners": [
            {"employee_id": k, "name": v} for k, v in sorted(owners.items(), key=lambda o: o[1])
        ],
        "rejected_lines": int(lines[0]["n"]),
    }


async def erase(
    *, actor: Actor, profile_url: str | None = None, email: str | None = None
) -> dict[str, Any]:
    """Erase one person everywhere: their fields are blanked, the search index forgets them.

    A blanked row stays (state erased, no personal field) so an import's counts still add up.
    The audit trail records that an erasure happened and how many rows, never the values.
    """
    url, mail = _subject(profile_url, email)
    async with write_transaction():
        await audit.lock_chain()
        rows = [
            r for r in await _subject_rows(url, mail) if r["state"] != ConnectionState.erased.value
        ]
        await _unindex(rows)
        # Remember the person (as digests only) so no later export brings them back.
        digests = subject_digests(url, mail)
        for r in rows:
            digests |= subject_digests(r["profile_url"], r["email"])
        for digest in sorted(digests):
            await fetch(
                'INSERT INTO "connection_suppression" ("digest", "erased_at") VALUES ($1, $2) '
                'ON CONFLICT ("digest") DO NOTHING',
                digest,
                now(),
            )
        ids = [r["id"] for r in rows]
        if ids:
            stamp = now()
            blank = ", ".join(f"\"{f}\" = ''" for f in PERSONAL_FIELDS)
            if is_postgres():
                await fetch(
                    f'UPDATE "connection" SET {blank}, "state" = $2, "state_changed_at" = $3 '
                    'WHERE "id" = ANY($1::int[])',
                    ids,
                    ConnectionState.erased.value,
                    stamp,
                )
            else:
                await fetch(
                    f'UPDATE "connection" SET {blank}, "state" = $2, "state_changed_at" = $3 '
                    'WHERE "id" IN (SELECT value FROM json_each($1))',
                    json.dumps(ids),
                    ConnectionState.erased.value,
                    stamp,
                )
        where, args = _rejected_where(url, mail)
        lines = await fetch(
            f'DELETE FROM "connection_rejected_line" WHERE {where} RETURNING "id"', *args
        )
        owners = sorted({r["employee_id"] for r in rows})
        await audit.record(
            actor,
            "connection.erase",
            "subject",
            "",
            {"connections": len(ids), "owners": len(owners), "rejected_lines": len(lines)},
        )
    return {"erased": len(ids), "owners": len(owners), "rejected_lines": len(lines)}


async def leavers_due_for_connection_purge(
    *, today: dt.date, retention_days: int
) -> list[dict[str, Any]]:
    """Employees whose connections the retention period has run out for.

    People who left more than `retention_days` ago and whose handover is complete: until then the
    successor may still need the export, and the attestation is still owed.
    """
    cutoff = today - dt.timedelta(days=retention_days)
    extensions.load()
    left = await left_before(cutoff)
    # The handovers part says whose offboarding is complete (the core's extension point: it sits
    # above this part).
    done = {r["id"] for r in left}
    for offboarded in extensions.offboarded:
        done &= await offboarded(sorted(done))
    if not extensions.offboarded:
        done = set()
    holding = await _owners_holding(sorted(done))
    return [r for r in left if r["id"] in holding]


async def _owners_holding(employee_ids: list[int]) -> set[int]:
    if not employee_ids:
        return set()
    marks = ", ".join(f"${n + 1}" for n in range(len(employee_ids)))
    # Lines an import could not read hold names too, even where no connection was kept.
    rows = await fetch(
        f'SELECT DISTINCT "owner" FROM "connection" WHERE "owner" IN ({marks}) UNION '
        'SELECT DISTINCT i."employee" FROM "connection_rejected_line" r '
        'JOIN "connection_import" i ON i."id" = r."source_import" '
        f'WHERE i."employee" IN ({marks})',
        *employee_ids,
    )
    return {r["owner"] for r in rows}


async def purge(
    *, actor: Actor, settings: Settings, today: dt.date | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Delete the connections of leavers past the retention period; each purge is audited."""
    today = today or dt.date.today()
    due = await leavers_due_for_connection_purge(
        today=today, retention_days=settings.connection_retention_days
    )
    done: list[dict[str, Any]] = []
    for person in due:
        async with write_transaction():
            await audit.lock_chain()
            rows = await fetch(
                'SELECT "id", "state", "first_name", "last_name", "company", "position" '
                'FROM "connection" WHERE "owner" = $1',
                person["id"],
            )
            if dry_run:
                done.append({"employee_id": person["id"], "connections": len(rows)})
                continue
            await _unindex(rows)
            await fetch('DELETE FROM "connection" WHERE "owner" = $1', person["id"])
            # The lines their imports could not read hold connections' names too.
            await fetch(
                'DELETE FROM "connection_rejected_line" WHERE "source_import" IN '
                '(SELECT "id" FROM "connection_import" WHERE "employee" = $1)',
                person["id"],
            )
            await audit.record(
                actor,
                "connection.purge",
                "employee",
                person["id"],
                {
                    "connections": len(rows),
                    "leaving_date": str(person["leaving_date"]),
                    "retention_days": settings.connection_retention_days,
                },
            )
            done.append({"employee_id": person["id"], "connections": len(rows)})
    return {
        "dry_run": dry_run,
        "employees": len(done),
        "connections": sum(d["connections"] for d in done),
        "items": done,
    }
