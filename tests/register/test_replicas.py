"""Read replicas: which reads a streaming replica serves, read-your-writes, lag and outages, /ready.

Runs against a real PostgreSQL primary and streaming replica started for the session
(tests/peers/pgcluster.py) and the real app over httpx. The settings tests run on both databases.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from register.db import bind_engine, fetch, get_engine, make_engine, write_transaction
from register.http import RECENT_WRITE_COOKIE
from register.migrate import migrate
from register.replicas import PRIMARY, RoutedPostgresEngine, is_plain_read, read_scope
from register.settings import Settings
from tests.conftest import BACKEND, FIXTURE_PASSWORD, UserFactory, _pg_reset_sql
from tests.peers.pgcluster import Cluster, pg_cluster  # noqa: F401  (the session's cluster)

needs_postgres = pytest.mark.skipif(
    BACKEND != "postgres",
    reason="read replicas are PostgreSQL streaming standbys: run with REGISTER_TEST_DATABASE=postgres",
)
DATABASE = "register_replicas"
# Far above any pause in these tests: a replica counts as fresh unless a test lowers it.
PATIENT = 300.0


@pytest.fixture(scope="session")
async def replicated(pg_cluster: Cluster) -> dict[str, str]:  # noqa: F811
    """A migrated register database on the cluster's primary, replayed on its replica."""
    pg_cluster.sql(f'CREATE DATABASE "{DATABASE}"')
    url = pg_cluster.dsn(DATABASE)
    engine: Any = make_engine(url)
    bind_engine(engine)
    await engine.start_connection_pool(min_size=1, max_size=2)
    await migrate(engine, quiet=True)
    # A table of the tests' own, to write and read without the register's rules in the way.
    await engine._run_in_pool("CREATE TABLE probe (n integer NOT NULL)")
    await engine.close_connection_pool()
    pg_cluster.wait_caught_up()
    return {"primary": url, "replica": pg_cluster.dsn(DATABASE, replica=True)}


@pytest.fixture
def cluster(pg_cluster: Cluster) -> Iterator[Cluster]:  # noqa: F811
    """The cluster, given back to the next test replaying and running whatever this one did."""
    yield pg_cluster
    if not pg_cluster.replica_running:
        pg_cluster.start_replica()
    pg_cluster.resume_replay()
    pg_cluster.wait_caught_up()


@pytest.fixture
def max_lag() -> float:
    """The lag bound of the test's app (a test parametrizes it to lower it)."""
    return PATIENT


@pytest.fixture
def check_seconds() -> float:
    """How often the app checks its replica: in effect never, unless a test parametrizes it."""
    return 3600.0


@pytest.fixture
async def database_url(replicated: dict[str, str], cluster: Cluster) -> str:
    """The replicated database, emptied, and the replica caught up with the emptying."""
    reset = await _pg_reset_sql(replicated["primary"])
    conn = await asyncpg.connect(replicated["primary"])
    try:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(reset)
    finally:
        await conn.close()
    cluster.wait_caught_up()
    return replicated["primary"]


@pytest.fixture
def settings(
    settings: Settings, replicated: dict[str, str], max_lag: float, check_seconds: float
) -> Settings:
    """The suite's settings with the replica listed."""
    return dataclasses.replace(
        settings,
        database_replica_urls=(replicated["replica"],),
        replica_max_lag_seconds=max_lag,
        # The tests check the replicas themselves (engine.check_replicas()) when they need to.
        replica_check_seconds=check_seconds,
    )


@pytest.fixture
def engine(app: Any) -> RoutedPostgresEngine:
    """The app's engine, with its replica."""
    bound = app.state.engine
    assert isinstance(bound, RoutedPostgresEngine) and len(bound.replicas) == 1
    return bound


def replica_reads(engine: RoutedPostgresEngine) -> int:
    """Reads the replica served so far."""
    return next(iter(engine.replicas.values())).reads


async def wait_for(condition: Any, what: str) -> None:
    """Poll until the condition holds (a bounded wait for the database, not a timing)."""
    for _ in range(400):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def add_employee(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    """Add a person through the API (the primary, as every write)."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post("/api/v1/employees", json={"name": name, "work_email": email})
    assert response.status_code == 201, response.text
    return response.json()


async def names(client: httpx.AsyncClient, q: str) -> set[str]:
    """The names the staff directory's search finds."""
    response = await client.get("/api/v1/employees", params={"q": q})
    assert response.status_code == 200, response.text
    # A read writes nothing, so it never sends its client to the primary.
    assert RECENT_WRITE_COOKIE not in response.cookies
    return {item["name"] for item in response.json()["items"]}


@needs_postgres
async def test_a_search_is_served_by_the_replica(
    cluster: Cluster, engine: RoutedPostgresEngine, user_factory: UserFactory
) -> None:
    """The directory's search reads the replica: a row the replica has not replayed is not found."""
    _, writer = await user_factory("hr")
    _, reader = await user_factory("hr")
    await add_employee(writer, "Ada Replayed")
    cluster.wait_caught_up()
    await engine.check_replicas()
    before = replica_reads(engine)
    assert await names(reader, "Ada") == {"Ada Replayed"}
    assert replica_reads(engine) > before

    cluster.pause_replay()
    await add_employee(writer, "Ada Unreplayed")
    # On the primary, written; on the replica, not yet.
    assert {r["name"] for r in await fetch("SELECT name FROM employee")} >= {"Ada Unreplayed"}
    served = replica_reads(engine)
    assert await names(reader, "Ada") == {"Ada Replayed"}
    assert replica_reads(engine) > served

    cluster.resume_replay()
    cluster.wait_caught_up()
    assert await names(reader, "Ada") == {"Ada Replayed", "Ada Unreplayed"}


@needs_postgres
async def test_a_client_reads_its_own_writes(
    cluster: Cluster, engine: RoutedPostgresEngine, user_factory: UserFactory
) -> None:
    """A client that wrote reads the primary for the lag bound (the cookie): it sees its write."""
    await engine.check_replicas()
    _, client = await user_factory("hr")
    cluster.pause_replay()
    created = await client.post(
        "/api/v1/employees", json={"name": "Grace Own", "work_email": "grace@example.com"}
    )
    assert created.status_code == 201, created.text
    assert RECENT_WRITE_COOKIE in created.cookies
    served, primary = replica_reads(engine), engine.primary_reads
    assert await names(client, "Grace") == {"Grace Own"}
    assert replica_reads(engine) == served
    assert engine.primary_reads > primary

    # Another client, which did not write, is served by the replica, a moment behind.
    _, other = await user_factory("hr")
    assert await names(other, "Grace") == set()
    assert replica_reads(engine) > served


@needs_postgres
async def test_a_page_list_is_served_by_the_replica_and_a_browser_sees_its_own_save(
    cluster: Cluster, engine: RoutedPostgresEngine, user_factory: UserFactory, app: Any
) -> None:
    """The staff directory page reads the replica; right after a save the browser reads the primary."""
    user, writer = await user_factory("hr")
    await add_employee(writer, "Pat Paged")
    cluster.wait_caught_up()
    await engine.check_replicas()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as browser:
        signed_in = await browser.post(
            "/api/v1/auth/login", json={"email": user["email"], "password": FIXTURE_PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        # Signing in wrote a session: for the lag bound this browser reads the primary.
        assert RECENT_WRITE_COOKIE in signed_in.cookies
        served = replica_reads(engine)
        page = await browser.get("/staff", params={"q": "Pat"})
        assert page.status_code == 200 and "Pat Paged" in page.text
        assert replica_reads(engine) == served

        # The bound passed (the cookie expired): the page is read from the replica.
        browser.cookies.delete(RECENT_WRITE_COOKIE)
        cluster.pause_replay()
        await add_employee(writer, "Pat Unreplayed")
        page = await browser.get("/staff", params={"q": "Pat"})
        assert page.status_code == 200
        assert "Pat Paged" in page.text and "Pat Unreplayed" not in page.text
        assert replica_reads(engine) > served
        assert RECENT_WRITE_COOKIE not in page.cookies


@needs_postgres
async def test_reads_after_a_write_in_the_same_request_go_to_the_primary(
    cluster: Cluster, engine: RoutedPostgresEngine
) -> None:
    """Inside a replica-safe scope, the first write sends every later read to the primary."""
    await engine.check_replicas()
    cluster.pause_replay()
    with read_scope(replica_ok=True) as scope:
        before = await fetch("SELECT count(*) AS n FROM probe")
        assert replica_reads(engine) == 1 and scope.node == "replica1"
        async with write_transaction():
            await fetch("INSERT INTO probe (n) VALUES (1)")
        after = await fetch("SELECT count(*) AS n FROM probe")
    assert scope.wrote
    assert after[0]["n"] == before[0]["n"] + 1
    assert replica_reads(engine) == 1


@needs_postgres
async def test_writes_and_transactions_never_reach_the_replica(
    cluster: Cluster, engine: RoutedPostgresEngine, user_factory: UserFactory
) -> None:
    """A write outside a transaction, a locking read, a read in a transaction: all on the primary.

    The replica is read-only: had any of these reached it, it would have refused with an error.
    """
    await engine.check_replicas()
    statements = [
        "INSERT INTO probe (n) VALUES (1) RETURNING n",
        "SELECT n FROM probe FOR UPDATE",
        "WITH gone AS (DELETE FROM probe RETURNING n) SELECT count(*) FROM gone",
        "SELECT pg_advisory_lock(7), pg_advisory_unlock(7)",
    ]
    for statement in statements:
        with read_scope(replica_ok=True) as scope:
            await fetch(statement)
        assert scope.wrote and scope.node is None, statement
    with read_scope(replica_ok=True):
        async with write_transaction():
            await fetch("SELECT count(*) FROM probe")
            await fetch("INSERT INTO probe (n) VALUES (2)")
    assert replica_reads(engine) == 0
    # And through HTTP: a POST (writes in a transaction) on a replica-safe app succeeds.
    _, client = await user_factory("hr")
    await add_employee(client, "Written Primary")
    assert replica_reads(engine) == 0
    assert not is_plain_read("SELECT nextval('employee_id_seq')")
    assert is_plain_read("  with x as (select 1) select * from x")


@needs_postgres
async def test_a_read_cancelled_for_a_recovery_conflict_runs_on_the_primary(
    cluster: Cluster, engine: RoutedPostgresEngine
) -> None:
    """The replica cancels a read whose rows its replay removes: the read is answered by the primary."""
    await fetch("INSERT INTO probe (n) SELECT generate_series(1, 100)")
    cluster.wait_caught_up()
    await engine.check_replicas()
    node = engine.replicas["replica1"]
    assert node.state == "ok"
    # Cancel at once rather than hold replay up to 30 s for the read.
    cluster.sql("ALTER SYSTEM SET max_standby_streaming_delay = 0", replica=True)
    cluster.sql("SELECT pg_reload_conf()", replica=True)
    try:
        with read_scope(replica_ok=True) as scope:
            read = asyncio.ensure_future(
                fetch(
                    "SELECT count(*) AS n, max(slept) AS s FROM probe, (SELECT pg_sleep(5)::text AS slept) AS s"
                )
            )

            async def reading() -> bool:
                active = cluster.sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                    " AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep(5)%'",
                    replica=True,
                    database=DATABASE,
                )
                return active == "1"

            await wait_for(reading, "the read to run on the replica")
            primary = engine.primary_reads
            # Removed on the primary and vacuumed away: replaying that conflicts with the read.
            cluster.sql("DELETE FROM probe", database=DATABASE)
            cluster.sql("VACUUM probe", database=DATABASE)
            rows = await read
        assert rows[0]["n"] == 0
        assert engine.primary_reads == primary + 1
        assert scope.node == "primary"
        assert node.state == "ok" and node.reads == 0
        assert "conflict with recovery" in cluster.log(replica=True)
    finally:
        cluster.sql("ALTER SYSTEM RESET max_standby_streaming_delay", replica=True)
        cluster.sql("SELECT pg_reload_conf()", replica=True)


@needs_postgres
@pytest.mark.parametrize("max_lag", [0.2])
async def test_a_lagging_replica_is_skipped_and_ready_says_so(
    cluster: Cluster,
    engine: RoutedPostgresEngine,
    user_factory: UserFactory,
    client: httpx.AsyncClient,
) -> None:
    """Paused past the bound, the replica is skipped: reads see the primary; /ready says lagging."""
    _, writer = await user_factory("hr")
    _, reader = await user_factory("hr")
    await engine.check_replicas()
    node = engine.replicas["replica1"]
    assert node.state == "ok"
    cluster.pause_replay()
    await add_employee(writer, "Lin Lagged")

    async def lagging() -> bool:
        await engine.check_replicas()
        return node.state == "lagging"

    await wait_for(lagging, "the replica to lag past the bound")
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ok"
    (replica,) = body["replicas"]
    assert replica["state"] == "lagging" and replica["lag_seconds"] > 0.2
    assert replica["address"] == f"127.0.0.1:{cluster.replica_port}"
    assert "lagging" in body["detail"] and "primary" in body["detail"]

    served = replica_reads(engine)
    assert await names(reader, "Lin") == {"Lin Lagged"}
    assert replica_reads(engine) == served

    cluster.resume_replay()
    cluster.wait_caught_up()
    await engine.check_replicas()
    assert node.state == "ok"
    body = (await client.get("/ready")).json()
    assert body["replicas"][0]["state"] == "ok" and "detail" not in body


@needs_postgres
async def test_a_stopped_replica_is_skipped_and_ready_says_down(
    cluster: Cluster,
    engine: RoutedPostgresEngine,
    user_factory: UserFactory,
    client: httpx.AsyncClient,
) -> None:
    """A replica that stops: the read it was sent runs on the primary, no error; /ready says down."""
    _, reader = await user_factory("hr")
    _, writer = await user_factory("hr")
    await add_employee(writer, "Max Standby")
    cluster.wait_caught_up()
    await engine.check_replicas()
    assert await names(reader, "Max") == {"Max Standby"}
    node = engine.replicas["replica1"]
    assert node.state == "ok" and node.reads > 0

    cluster.stop_replica()
    # The last check found it well: this read is sent to it, fails to connect, and is run again on
    # the primary.
    primary = engine.primary_reads
    assert await names(reader, "Max") == {"Max Standby"}
    assert node.state == "down"
    assert engine.primary_reads > primary

    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["replicas"][0]["state"] == "down"
    assert "lag_seconds" not in body["replicas"][0]
    assert "down" in body["detail"] and "primary" in body["detail"]
    assert "postgres@" not in ready.text

    await engine.check_replicas()
    assert node.state == "down"
    cluster.start_replica()
    cluster.wait_caught_up()
    await engine.check_replicas()
    assert node.state == "ok"
    served = node.reads
    assert await names(reader, "Max") == {"Max Standby"}
    assert node.reads > served


@needs_postgres
@pytest.mark.parametrize("check_seconds", [0.1])
async def test_each_process_checks_its_replicas_in_the_background(
    cluster: Cluster, engine: RoutedPostgresEngine
) -> None:
    """Nobody asks: the app's own check finds the replica gone, then back."""
    node = engine.replicas["replica1"]
    assert node.state == "ok"
    cluster.stop_replica()

    def state_is(wanted: str) -> Any:
        async def reached() -> bool:
            return node.state == wanted

        return reached

    await wait_for(state_is("down"), "the check to find the replica down")
    cluster.start_replica()
    await wait_for(state_is("ok"), "the check to find the replica back")


@needs_postgres
async def test_requests_share_the_replicas_and_one_request_stays_on_one(
    replicated: dict[str, str], database_url: str, cluster: Cluster
) -> None:
    """Two replicas: requests take turns; each request's reads stay on the replica they began on."""
    port = cluster.replica_port
    engine: Any = make_engine(
        replicated["primary"],
        replica_urls=(
            f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}",
            f"postgresql://postgres@localhost:{port}/{DATABASE}",
        ),
    )
    bind_engine(engine)
    await engine.start_connection_pool(min_size=1, max_size=2)
    try:
        assert [node.state for node in engine.replicas.values()] == ["ok", "ok"]
        used = []
        for _ in range(4):
            with read_scope(replica_ok=True) as scope:
                nodes = set()
                for _ in range(3):
                    await fetch("SELECT count(*) AS n FROM probe")
                    nodes.add(scope.node)
            assert len(nodes) == 1, nodes
            used.append(scope.node)
        assert sorted(used) == ["replica1", "replica1", "replica2", "replica2"]
        assert engine.read_counts() == {
            PRIMARY: engine.primary_reads,
            f"127.0.0.1:{port}": 6,
            f"localhost:{port}": 6,
        }
    finally:
        await engine.close_connection_pool()


@needs_postgres
async def test_the_primary_alone_reports_no_replicas(
    replicated: dict[str, str], cluster: Cluster, var_dir: Path, tmp_path: Path
) -> None:
    """Without replicas, /ready is as it always was."""
    from register.asgi import create_app

    plain = Settings(
        database_url=replicated["primary"],
        var_dir=var_dir,
        secret_key_file=var_dir / "secret.key",
        keyring_file=var_dir / "keyring.json",
        audit_signing_key_file=var_dir / "audit_signing.pem",
        audit_witness_file=tmp_path / "witness.jsonl",
    )
    app = create_app(plain)
    await get_engine().start_connection_pool(min_size=1, max_size=2)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            ready = await client.get("/ready")
    finally:
        await get_engine().close_connection_pool()
    assert ready.json() == {"status": "ok", "database": "ok", "migrations": "applied"}


# -- settings (both databases) ------------------------------------------------------------------


def _settings(**env: str) -> Settings:
    return Settings.from_env({f"REGISTER_{k.upper()}": v for k, v in env.items()}, Path("/none"))


def test_replica_urls_are_read_and_checked() -> None:
    """A list of postgresql URLs is taken; SQLite, another scheme or a URL without host is refused."""
    settings = _settings(
        database_url="postgresql://app@db:5432/register",
        database_replica_urls="postgresql://app:secret@r1:5432/register, postgres://app@r2/register",
        replica_max_lag_seconds="2.5",
        replica_check_seconds="0.5",
    )
    assert settings.database_replica_urls == (
        "postgresql://app:secret@r1:5432/register",
        "postgres://app@r2/register",
    )
    assert settings.replica_max_lag_seconds == 2.5
    assert settings.recent_write_seconds == 3
    assert _settings().database_replica_urls == ()
    assert _settings().replica_max_lag_seconds == 5.0

    with pytest.raises(SystemExit, match="needs a PostgreSQL REGISTER_DATABASE_URL"):
        _settings(database_replica_urls="postgresql://app@r1/register")
    with pytest.raises(SystemExit, match="'mysql' is not PostgreSQL") as refused:
        _settings(
            database_url="postgresql://app@db/register",
            database_replica_urls="mysql://app:hunter2@r1/register",
        )
    assert "hunter2" not in str(refused.value)
    with pytest.raises(SystemExit, match="needs a host"):
        _settings(
            database_url="postgresql://app@db/register",
            database_replica_urls="postgresql:///register",
        )
    for name in ("replica_max_lag_seconds", "replica_check_seconds"):
        for value in ("0", "-1", "soon", "inf"):
            with pytest.raises(SystemExit, match=f"REGISTER_{name.upper()}"):
                _settings(**{name: value})


# Piccolo asks the primary for its version when the engine is made; there is none here.
@pytest.mark.filterwarnings("ignore:.*Unable to fetch server version")
def test_an_engine_with_replicas_needs_postgres() -> None:
    """make_engine refuses replicas beside SQLite, and names each replica by host:port only."""
    with pytest.raises(SystemExit, match="needs a PostgreSQL"):
        make_engine("sqlite:///var/x.db", replica_urls=("postgresql://u@r1/db",))
    engine = make_engine(
        "postgresql://u@db/register",
        replica_urls=("postgresql://u:secret@r1:6432/register", "postgresql://u@r2/register"),
    )
    assert isinstance(engine, RoutedPostgresEngine)
    assert [n.address for n in engine.replicas.values()] == ["r1:6432", "r2:5432"]
    assert set(engine.extra_nodes) == {"replica1", "replica2"}
    assert engine.read_counts() == {PRIMARY: 0, "r1:6432": 0, "r2:5432": 0}
