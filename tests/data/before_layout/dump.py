"""How rows.json was dumped: run against commit 46602f0 (see README.md here); kept for the record."""
"""Dump every table of a register database as typed JSON (the form the upgrade test loads)."""
import asyncio, base64, datetime as dt, decimal, json, os, sys
os.environ.setdefault("PICCOLO_CONF", "register.piccolo_conf")
from register.db import bind_engine, fetch, is_postgres, make_engine

SKIP = {"migration", "sqlite_sequence", "connection_search"}

def encode(v):
    if isinstance(v, dt.datetime): return {"$datetime": v.isoformat()}
    if isinstance(v, dt.date): return {"$date": v.isoformat()}
    if isinstance(v, (bytes, bytearray, memoryview)): return {"$bytes": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, decimal.Decimal): return {"$decimal": str(v)}
    return v

async def tables():
    if is_postgres():
        rows = await fetch("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    else:
        rows = await fetch("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
    return [r["name"] for r in rows if r["name"] not in SKIP and not r["name"].startswith("connection_fts")]

async def main(url, out):
    engine = make_engine(url); bind_engine(engine); await engine.start_connection_pool()
    result = {"tables": {}, "migrations": [[r["app_name"], r["name"]] for r in await fetch('SELECT "app_name", "name" FROM "migration" ORDER BY "id"')]}
    for t in await tables():
        rows = await fetch(f'SELECT * FROM "{t}" ORDER BY "id"')
        cols = list(rows[0]) if rows else []
        result["tables"][t] = {"columns": cols, "rows": [[encode(r[c]) for c in cols] for r in rows]}
    await engine.close_connection_pool()
    with open(out, "w") as f:
        json.dump(result, f, indent=None, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
asyncio.run(main(sys.argv[1], sys.argv[2]))
