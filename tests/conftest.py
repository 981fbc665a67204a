"""Test fixtures: a real database per test (SQLite file or PostgreSQL), the app over httpx."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ.setdefault("PICCOLO_CONF", "register.piccolo_conf")


from register.actor import Actor
from register.asgi import bind_app, build_app
from register.auth import issue_token
from register.db import bind_engine, make_engine
from register.enums import Role
from register.keys import load_secrets
from register.migrate import migrate
from register.services import create_user
from register.settings import Settings

PG_ADMIN_DSN = os.environ.get(
    "REGISTER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKEND = os.environ.get("REGISTER_TEST_DATABASE", "sqlite")


def pytest_report_header(config: pytest.Config) -> str:
    return f"register test database: {BACKEND}"


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of development secrets for the whole run."""
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
async def template(var_dir: Path) -> AsyncIterator[dict[str, Any]]:
    """A migrated database every test starts from."""
    if BACKEND == "postgres":
        name = f"register_test_{os.getpid()}"
        try:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
            await _pg_admin(f'CREATE DATABASE "{name}"')
        except OSError as exc:
            pytest.exit(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {exc}", returncode=3)
        url = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{var_dir}/template.db"
    engine: Any = make_engine(url)
    bind_engine(engine)
    await engine.start_connection_pool()
    await migrate(engine, quiet=True)
    await engine.close_connection_pool()
    yield {"url": url, "reset": await _pg_reset_sql(url) if BACKEND == "postgres" else ""}
    if BACKEND == "postgres":
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _pg_reset_sql(url: str) -> str:
    """Statements that empty every table but the migrations' and restart every sequence."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        # From the catalogue, not the table registry: tables made by raw DDL (the search index)
        # must be emptied too, and DELETE under the replica role runs no cascades for them.
        tables = await conn.fetch(
            "SELECT quote_ident(tablename) AS name FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'migration'"
        )
        sequences = await conn.fetch(
            "SELECT quote_ident(sequencename) AS name FROM pg_sequences WHERE schemaname = 'public'"
        )
    finally:
        await conn.close()
    # DELETE of a few rows is about ten times faster than TRUNCATE of every table (34 against 274
    # ms here), which made up a fifth of the PostgreSQL suite's time.
    return "; ".join(
        [f"DELETE FROM {t['name']}" for t in tables]
        + [f"ALTER SEQUENCE {s['name']} RESTART" for s in sequences]
    )


@pytest.fixture
async def database_url(template: dict[str, Any], tmp_path: Path) -> str:
    """A clean database for this test."""
    if BACKEND == "postgres":
        import asyncpg

        conn = await asyncpg.connect(template["url"])
        try:
            # Replica role skips the append-only triggers, so the audit trail can be emptied too,
            # and the foreign keys, so the tables can be emptied in any order.
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(template["reset"])
        finally:
            await conn.close()
        return template["url"]
    source = Path(template["url"].removeprefix("sqlite:///"))
    target = tmp_path / f"register-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


@pytest.fixture
def settings(database_url: str, var_dir: Path, tmp_path: Path) -> Settings:
    """Settings pointing at this test's database."""
    return Settings(
        database_url=database_url,
        var_dir=var_dir,
        secret_key_file=var_dir / "secret.key",
        keyring_file=var_dir / "keyring.json",
        audit_signing_key_file=var_dir / "audit_signing.pem",
        # The witness belongs to one database: each test's trail has its own.
        audit_witness_file=tmp_path / "audit_witness.jsonl",
        allowed_hosts=("testserver", "127.0.0.1", "localhost"),
        work_email_domains=("example.com",),
        webhook_allowed_hosts=("127.0.0.1",),
        # Lower than the default so the per-address lock is reached in a few (slow) hashes.
        login_max_failures_per_client=8,
    )


# Built apps by CORS origins, the one thing bound at build time: building the routes takes a
# fifth of a second, paid by nearly every test; binding it to a test's settings takes nothing.
_BUILT: dict[tuple[str, ...], Any] = {}


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    """The register, started, on this test's database."""
    built = _BUILT.get(settings.cors_origins)
    if built is None:
        built = _BUILT[settings.cors_origins] = build_app(settings.cors_origins)
    application = bind_app(built, settings)
    routes = len(application.routes)
    # The lifespan's task-bound cancel scope cannot span pytest's setup and teardown tasks,
    # so the fixture starts and stops the pool itself.
    engine = application.state.engine
    await engine.start_connection_pool()
    yield application
    await engine.close_connection_pool()
    if len(application.routes) != routes:
        # The test registered routes of its own: the next test gets a newly built app.
        _BUILT.pop(settings.cors_origins, None)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous HTTP client talking to the app in-process."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        yield c


@pytest.fixture
def secrets(settings: Settings) -> Any:
    """The secrets the app loaded."""
    return load_secrets(settings, announce=False)


UserFactory = Callable[..., Awaitable[tuple[dict[str, Any], httpx.AsyncClient]]]


FIXTURE_PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def fixture_password_hash() -> str:
    """One real PBKDF2 hash of the fixtures' password, shared by their users.

    Hashing at 600,000 iterations takes a good part of a second; paid for every user of every
    test it was most of the suite's time. The tests of hashing itself create users directly.
    """
    from register.passwords import hash_password_sync

    return hash_password_sync(FIXTURE_PASSWORD)


@pytest.fixture
async def user_factory(
    app: Any, fixture_password_hash: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[UserFactory]:
    """make(role) -> (user, client authenticated with a bearer token of that user)."""
    import register.services

    clients: list[httpx.AsyncClient] = []
    real_hash = register.services.hash_password

    async def fixture_hash(password: str) -> str:
        if password == FIXTURE_PASSWORD:
            return fixture_password_hash
        return await real_hash(password)

    async def make(
        role: Role | str = Role.admin, email: str | None = None, **kwargs: Any
    ) -> tuple[dict[str, Any], httpx.AsyncClient]:
        role = Role(role)
        email = email or f"{role.value}-{uuid.uuid4().hex[:6]}@example.com"
        with monkeypatch.context() as patch:
            patch.setattr(register.services, "hash_password", fixture_hash)
            user, _ = await create_user(
                actor=Actor.system("test"),
                email=email,
                role=role,
                password=FIXTURE_PASSWORD,
                must_change_password=False,
                **kwargs,
            )
        token = await issue_token(
            actor=Actor.system("test"), user_id=user["id"], name="test", expires_in_days=1
        )
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {token.token}"},
        )
        clients.append(c)
        return user, c

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
async def admin(user_factory: UserFactory) -> httpx.AsyncClient:
    """A client signed in as an admin."""
    return (await user_factory(Role.admin))[1]


@pytest.fixture
async def hr(user_factory: UserFactory) -> httpx.AsyncClient:
    """A client signed in as HR."""
    return (await user_factory(Role.hr))[1]
