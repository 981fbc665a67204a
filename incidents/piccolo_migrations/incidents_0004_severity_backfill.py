"""Existing incidents get their severity at filing and highest severity from their timelines."""

import json
from collections import defaultdict

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T18:10:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "fill severity_at_filing and highest_severity of existing incidents"

# Fixed here rather than imported: a migration must not change when the enum does.
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")


def _data(value):
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def severities(current, entries):
    """(at filing, highest) from the current severity and the incident's filed/severity entries.

    The filing line records the severity filed with; failing that, the first change's "from";
    failing both (no history), the current severity. The highest is the worst of the filing's,
    every change's "to", and the current one.
    """
    at_filing = None
    seen = [current]
    for kind, data in entries:
        if kind == "filed" and data.get("severity") in SEVERITIES:
            at_filing = at_filing or data["severity"]
        elif kind == "severity":
            if data.get("from") in SEVERITIES:
                at_filing = at_filing or data["from"]
            if data.get("to") in SEVERITIES:
                seen.append(data["to"])
    at_filing = at_filing or current
    known = [s for s in (at_filing, *seen) if s in SEVERITIES]
    return at_filing, min(known, key=SEVERITIES.index) if known else current


async def backfill():
    """Fill the rows migration 0003 left empty (all of them, on a database that had incidents)."""
    engine = engine_finder()
    rows = await engine.run_ddl(
        "SELECT \"id\", \"severity\" FROM \"incident\" "
        "WHERE \"severity_at_filing\" = '' OR \"highest_severity\" = ''"
    )
    if not rows:
        return
    entries = defaultdict(list)
    for e in await engine.run_ddl(
        "SELECT \"incident\", \"kind\", \"data\" FROM \"timeline_entry\" "
        "WHERE \"kind\" IN ('filed', 'severity') ORDER BY \"id\""
    ):
        entries[e["incident"]].append((e["kind"], _data(e["data"])))
    groups = defaultdict(list)
    for r in rows:
        groups[severities(r["severity"], entries[r["id"]])].append(int(r["id"]))
    for (at_filing, highest), ids in groups.items():
        if at_filing not in SEVERITIES or highest not in SEVERITIES:
            continue  # a severity outside the four was never stored; leave the row as it is
        for start in range(0, len(ids), 500):
            chunk = ", ".join(str(i) for i in ids[start : start + 500])
            # Both values are among SEVERITIES and the ids are integers: nothing to quote.
            await engine.run_ddl(
                f"UPDATE \"incident\" SET \"severity_at_filing\" = '{at_filing}', "
                f"\"highest_severity\" = '{highest}' WHERE \"id\" IN ({chunk})"
            )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="incidents", description=DESCRIPTION)
    manager.add_raw(backfill)
    return manager
