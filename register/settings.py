"""Settings read once from REGISTER_* environment variables and an optional .env file."""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ENV_PREFIX = "REGISTER_"
# The schemes of a PostgreSQL URL (primary or replica); asyncpg is given postgresql://.
POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+asyncpg")


def _read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines of a .env file; the real environment wins over it."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _public_url(value: str) -> str:
    """REGISTER_PUBLIC_URL without its trailing slash; refused unless an http(s) origin and path."""
    url = urlsplit(value.strip())
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise SystemExit(
            "REGISTER_PUBLIC_URL must be the register's address, such as "
            "https://register.example.com (no query or fragment)"
        )
    return value.strip().rstrip("/")


def _with_password(database_url: str, password: str) -> str:
    """A PostgreSQL URL that names a user, with this password put in."""
    url = urlsplit(database_url)
    if url.scheme.lower() not in POSTGRES_SCHEMES:
        raise SystemExit("REGISTER_DATABASE_PASSWORD_FILE is for postgresql:// database URLs")
    if url.password is not None:
        # Two passwords, one of them in an environment value: refuse rather than pick one.
        raise SystemExit(
            "a database URL holds a password and REGISTER_DATABASE_PASSWORD_FILE is set: "
            "take the password out of the URL"
        )
    if not url.username:
        raise SystemExit("REGISTER_DATABASE_PASSWORD_FILE needs the user's name in the URL")
    host = url.netloc.rpartition("@")[2]
    netloc = f"{url.username}:{quote(password, safe='')}@{host}"
    return urlunsplit((url.scheme, netloc, url.path, url.query, url.fragment))


def _put_password(get: dict[str, str]) -> Path:
    """Put REGISTER_DATABASE_PASSWORD_FILE's password into the database URLs (and replicas')."""
    path = Path(get["database_password_file"].strip())
    try:
        # Only the line's end is dropped: a password may begin or end with a space.
        password = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SystemExit(f"REGISTER_DATABASE_PASSWORD_FILE {path}: {exc.strerror}") from exc
    if not get.get("database_url"):
        raise SystemExit("REGISTER_DATABASE_PASSWORD_FILE needs REGISTER_DATABASE_URL")
    get["database_url"] = _with_password(get["database_url"], password)
    # The replicas are copies of the primary: the same user, the same password.
    if get.get("database_replica_urls", "").strip():
        get["database_replica_urls"] = ",".join(
            _with_password(url, password) for url in _split(get["database_replica_urls"])
        )
    return path


def _group_roles(value: str) -> tuple[tuple[str, str], ...]:
    """REGISTER_GROUP_ROLES as (group, role) pairs; refused when a role is not one of ours."""
    from register.enums import Role

    pairs = []
    for part in _split(value):
        group, sep, role = part.rpartition("=")
        if not sep or not group.strip() or role.strip() not in Role.__members__:
            raise SystemExit(
                f"REGISTER_GROUP_ROLES: {part!r} must be group=role, the role one of "
                + ", ".join(Role)
            )
        pairs.append((group.strip(), role.strip()))
    return tuple(pairs)


def _oidc(get: dict[str, str]) -> dict[str, object]:
    """Company sign-in's settings; an issuer needs a client id and secret, break-glass e-mails."""
    kwargs: dict[str, object] = {}
    for name in ("oidc_client_id", "oidc_scopes", "oidc_groups_claim", "oidc_button_label"):
        if get.get(name, "").strip():
            kwargs[name] = get[name].strip()
    issuer = get.get("oidc_issuer", "").strip()
    if issuer:
        url = urlsplit(issuer)
        if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
            raise SystemExit("REGISTER_OIDC_ISSUER must be the provider's https:// issuer URL")
        if not kwargs.get("oidc_client_id") or not get.get("oidc_client_secret_file"):
            raise SystemExit(
                "REGISTER_OIDC_ISSUER needs REGISTER_OIDC_CLIENT_ID and "
                "REGISTER_OIDC_CLIENT_SECRET_FILE"
            )
        kwargs["oidc_issuer"] = issuer
    if get.get("oidc_client_secret_file"):
        kwargs["oidc_client_secret_file"] = Path(get["oidc_client_secret_file"])
    mode = get.get("password_sign_in", "on").strip().lower()
    if mode not in ("on", "break-glass"):
        raise SystemExit("REGISTER_PASSWORD_SIGN_IN must be 'on' or 'break-glass'")
    kwargs["password_sign_in"] = mode
    kwargs["break_glass_emails"] = tuple(
        e.lower() for e in _split(get.get("break_glass_emails", ""))
    )
    if mode == "break-glass" and not (kwargs["break_glass_emails"] and issuer):
        # Without both, nobody but the break-glass admins (or nobody at all) could sign in.
        raise SystemExit(
            "REGISTER_PASSWORD_SIGN_IN=break-glass needs REGISTER_OIDC_ISSUER and "
            "REGISTER_BREAK_GLASS_EMAILS"
        )
    return kwargs


SMTP_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def _mail_settings(get: dict[str, str]) -> dict[str, object]:
    """The e-mail settings from REGISTER_SMTP_* and REGISTER_MAIL_FROM."""
    out: dict[str, object] = {}
    security = get.get("smtp_security", "starttls").strip().lower() or "starttls"
    if security not in SMTP_PORTS:
        raise SystemExit("REGISTER_SMTP_SECURITY must be starttls, tls or none")
    out["smtp_security"] = security
    out["smtp_host"] = get.get("smtp_host", "").strip()
    out["smtp_username"] = get.get("smtp_username", "").strip()
    out["mail_from"] = get.get("mail_from", "").strip()
    if get.get("smtp_password_file", "").strip():
        out["smtp_password_file"] = Path(get["smtp_password_file"].strip())
    try:
        out["smtp_port"] = int(get.get("smtp_port") or SMTP_PORTS[security])
        out["smtp_timeout"] = float(get.get("smtp_timeout") or 20.0)
    except ValueError as exc:
        raise SystemExit(
            "REGISTER_SMTP_PORT must be a whole number and REGISTER_SMTP_TIMEOUT seconds"
        ) from exc
    return out


def _replica_urls(value: str) -> tuple[str, ...]:
    """REGISTER_DATABASE_REPLICA_URLS: postgresql:// URLs with a host; anything else refused."""
    urls = _split(value)
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme.lower() not in POSTGRES_SCHEMES:
            # Not the URL itself: it may hold a password.
            raise SystemExit(
                f"REGISTER_DATABASE_REPLICA_URLS: {parts.scheme or 'a URL without a scheme'!r} is "
                "not PostgreSQL; list postgresql://user@host:port/database URLs"
            )
        if not parts.hostname:
            raise SystemExit(
                "REGISTER_DATABASE_REPLICA_URLS: every URL needs a host, "
                "postgresql://user@host:port/database"
            )
    return urls


def _check_replicas(settings: Settings) -> None:
    """Replicas need a PostgreSQL primary, a positive lag bound and check interval."""
    if settings.database_replica_urls and settings.is_sqlite:
        raise SystemExit(
            "REGISTER_DATABASE_REPLICA_URLS needs a PostgreSQL REGISTER_DATABASE_URL "
            "(SQLite has no replicas)"
        )
    if not settings.replica_max_lag_seconds > 0 or not math.isfinite(
        settings.replica_max_lag_seconds
    ):
        raise SystemExit("REGISTER_REPLICA_MAX_LAG_SECONDS must be a number of seconds above 0")
    if not settings.replica_check_seconds > 0 or not math.isfinite(settings.replica_check_seconds):
        raise SystemExit("REGISTER_REPLICA_CHECK_SECONDS must be a number of seconds above 0")


def _check_mail(settings: Settings) -> None:
    """E-mail on needs a sender, links that work from a mailbox, and a lease longer than a send."""
    if not settings.smtp_host:
        return
    if not settings.mail_from:
        raise SystemExit("REGISTER_MAIL_FROM must be set when REGISTER_SMTP_HOST is")
    if not settings.public_url:
        # A mail's link must open the page from wherever the mail is read.
        raise SystemExit("REGISTER_PUBLIC_URL must be set when REGISTER_SMTP_HOST is")
    if settings.smtp_password_file and not settings.smtp_password_file.is_file():
        raise SystemExit(f"REGISTER_SMTP_PASSWORD_FILE {settings.smtp_password_file} not found")
    if settings.outbox_lease_seconds <= 3 * settings.smtp_timeout:
        raise SystemExit(
            f"REGISTER_OUTBOX_LEASE_SECONDS ({settings.outbox_lease_seconds:g}) must be longer "
            f"than the longest mail send, 3 x REGISTER_SMTP_TIMEOUT ({3 * settings.smtp_timeout:g} s)"
        )


# Whole-number settings that are wrong outside a range: a key kept 0 days would let a retry make
# its change again (register.http).
INT_LIMITS: dict[str, tuple[int, int]] = {"idempotency_retention_days": (1, 365)}


@dataclass(frozen=True)
class Settings:
    """Every setting of the register, documented per field in README and .env.example."""

    # Where the data lives: sqlite:///path/to/file.db or postgresql://user@host:port/db
    database_url: str = "sqlite:///var/register.db"
    # a file holding the PostgreSQL user's password, put into database_url when read, so the
    # password is in no environment value (Docker and Kubernetes secrets are files)
    database_password_file: Path | None = None
    # development generates missing secrets into var/; production refuses to start without them
    env: str = "development"
    # folder for generated development secrets and the default SQLite file
    var_dir: Path = Path("var")
    # random secret (>= 32 bytes) required at start; the audit MAC key is derived from it (HKDF)
    secret_key_file: Path = Path("var/secret.key")
    # master key ring for credential encryption (JSON file: versions of 32-byte keys)
    keyring_file: Path = Path("var/keyring.json")
    # Ed25519 private key (PEM) that signs audit checkpoints and certificates
    audit_signing_key_file: Path = Path("var/audit_signing.pem")
    # witness of the audit trail outside the database: every signed checkpoint is appended to it
    # as one JSON line (created 0600); best on other storage than the database's
    audit_witness_file: Path = Path("var/audit_witness.jsonl")
    # e-mail of the first admin created on an empty database
    admin_email: str = "admin@localhost"
    # Host headers the service answers to
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "testserver", "*.localhost")
    # the register's address as people reach it (https://register.example.com); links made
    # without a request (the CLI) need it, and pages and the API use it when it is set
    public_url: str = ""
    # proxies whose X-Forwarded-For/-Proto are believed (addresses or networks; * for any)
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1",)
    # browser origins allowed to call the API cross-site (empty: none)
    cors_origins: tuple[str, ...] = ()
    # e-mail domains the company controls (recovery contacts on them count as company-controlled)
    work_email_domains: tuple[str, ...] = ()
    # hosts that webhooks may be delivered to
    webhook_allowed_hosts: tuple[str, ...] = ()
    # days to keep connections of people who left, after their handover is complete
    connection_retention_days: int = 365
    # days after which a credential is due for rotation by age
    credential_max_age_days: int = 180
    # days between custody re-certifications (the advice: review at least every six months)
    recertification_days: int = 180
    # days to keep idempotency records
    idempotency_retention_days: int = 2
    # how long a browser session lasts after sign-in, in hours
    session_hours: int = 12
    # failed sign-ins allowed per account and per client within the window before 429
    login_max_failures: int = 5
    # failed sign-ins allowed from one client address (higher: an office behind NAT shares one)
    login_max_failures_per_client: int = 20
    login_window_seconds: int = 900
    # SQLite connections kept open for reads (writes queue on one lock)
    sqlite_pool_size: int = 4
    # PostgreSQL pool size per process (each read replica gets a pool of the same size)
    pg_pool_max: int = 10
    # PostgreSQL read replicas (streaming standbys of the primary), comma-separated
    # postgresql:// URLs; reads that may be a moment behind go to them (README: Read replicas)
    database_replica_urls: tuple[str, ...] = ()
    # seconds a replica may be behind the primary and still serve reads; a client that wrote
    # reads from the primary for this long (plus one check) after its write
    replica_max_lag_seconds: float = 5.0
    # seconds between two checks of each replica's lag, in every process
    replica_check_seconds: float = 1.0
    # log level of the service
    log_level: str = "INFO"
    # notifications: seconds to open a connection to a webhook receiver, and to wait for its answer
    webhook_connect_timeout: float = 5.0
    webhook_read_timeout: float = 10.0
    # delivery attempts before an outbox message is dead-lettered
    outbox_max_attempts: int = 8
    # first retry delay in seconds, doubled per attempt (with jitter) up to the maximum
    outbox_backoff_seconds: float = 30.0
    outbox_backoff_max_seconds: float = 3600.0
    # seconds a worker holds the messages it claimed; a killed worker's ones are retried after it
    outbox_lease_seconds: float = 120.0
    # messages claimed and sent at once by one worker
    outbox_batch_size: int = 100
    # seconds an idle worker waits before looking for new messages
    outbox_poll_seconds: float = 1.0
    # days to keep delivered outbox messages (dead letters stay until retried)
    outbox_retention_days: int = 14
    # run the delivery worker inside `register serve` (false: run `register worker` separately)
    worker_in_process: bool = True
    # UTC hour at which the daily digest is sent
    digest_hour_utc: int = 7
    # handovers: e-mails of the HR leads, who (with admins) may waive a handover item
    handover_hr_leads: tuple[str, ...] = ()
    # handovers: credentials the leaver revealed within this many days are rotated
    handover_reveal_days: int = 90
    # company sign-in and SCIM: the identity provider's groups mapped to the register's roles,
    # "Register IT=it,Register HR=hr"; a person in several takes the first listed that matches
    group_roles: tuple[tuple[str, str], ...] = ()
    # company sign-in (OpenID Connect): the provider's issuer URL, exactly as its discovery
    # document names it; empty: sign-in through the provider is off
    oidc_issuer: str = ""
    # the register's client id at the provider, and a file holding its client secret
    oidc_client_id: str = ""
    oidc_client_secret_file: Path | None = None
    # scopes asked for (space-separated); add the one that releases groups where it needs one
    oidc_scopes: str = "openid email profile"
    # the ID token (or userinfo) claim that lists the person's groups
    oidc_groups_claim: str = "groups"
    # the company's name on the sign-in button ("Sign in with Example")
    oidc_button_label: str = ""
    # on: everyone may sign in with a password; break-glass: only the e-mails below may (the
    # provider's sign-in is then the way in for everyone else)
    password_sign_in: str = "on"
    break_glass_emails: tuple[str, ...] = ()
    # e-mail: the SMTP server mail is sent through (host name; empty: no e-mail is sent)
    smtp_host: str = ""
    # its port; when not set, the usual one for the security: 587 starttls, 465 tls, 25 none
    smtp_port: int = 587
    # starttls (upgrade a plain connection, refuse if the server cannot), tls (TLS from the
    # first byte) or none (plain text: only to a relay on this machine or a trusted network)
    smtp_security: str = "starttls"
    # user name to sign in to the server with (empty: no sign-in)
    smtp_username: str = ""
    # file holding the password of that user (read at each send, so it can be rotated in place)
    smtp_password_file: Path | None = None
    # the From address of every mail, e.g. "Social asset register <register@example.com>"
    mail_from: str = ""
    # seconds to connect to the SMTP server and to wait for each of its answers
    smtp_timeout: float = 20.0
    extra: dict[str, str] = field(default_factory=dict)

    def role_for_groups(self, groups: list[str] | tuple[str, ...]) -> str | None:
        """The role that a person in these provider groups gets, or None when no group maps."""
        held = {group.strip().casefold() for group in groups}
        for group, role in self.group_roles:
            if group.casefold() in held:
                return role
        return None

    @property
    def oidc_enabled(self) -> bool:
        """Whether sign-in through the company's identity provider is on."""
        return bool(self.oidc_issuer)

    def password_allowed(self, email: str) -> bool:
        """Whether this e-mail may sign in with a password (everyone, or the break-glass admins)."""
        if self.password_sign_in == "on":
            return True
        return email.strip().lower() in self.break_glass_emails

    @property
    def is_production(self) -> bool:
        """Whether the service runs in production mode."""
        return self.env == "production"

    @property
    def recent_write_seconds(self) -> int:
        """How long a client that wrote reads from the primary: the lag bound and one check."""
        return math.ceil(self.replica_max_lag_seconds + self.replica_check_seconds)

    @property
    def is_sqlite(self) -> bool:
        """Whether the database URL selects SQLite."""
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, dotenv: Path | None = None
    ) -> Settings:
        """Build settings from the environment, falling back to .env and the defaults."""
        source = dict(_read_dotenv(dotenv or Path(".env")))
        source.update(os.environ if environ is None else environ)
        get = {
            k.removeprefix(ENV_PREFIX).lower(): v
            for k, v in source.items()
            if k.startswith(ENV_PREFIX)
        }
        kwargs: dict[str, object] = {}
        if get.get("database_password_file", "").strip():
            # First, so that whatever reads a database URL below reads it with its password.
            kwargs["database_password_file"] = _put_password(get)
        var_dir = Path(get.get("var_dir", "var"))
        kwargs["var_dir"] = var_dir
        kwargs["database_url"] = get.get("database_url", f"sqlite:///{var_dir}/register.db")
        kwargs["secret_key_file"] = Path(get.get("secret_key_file", str(var_dir / "secret.key")))
        kwargs["keyring_file"] = Path(get.get("keyring_file", str(var_dir / "keyring.json")))
        kwargs["audit_signing_key_file"] = Path(
            get.get("audit_signing_key_file", str(var_dir / "audit_signing.pem"))
        )
        kwargs["audit_witness_file"] = Path(
            get.get("audit_witness_file", str(var_dir / "audit_witness.jsonl"))
        )
        for name in ("env", "admin_email", "log_level"):
            if name in get:
                kwargs[name] = get[name]
        if get.get("public_url", "").strip():
            kwargs["public_url"] = _public_url(get["public_url"])
        for name in (
            "allowed_hosts",
            "cors_origins",
            "forwarded_allow_ips",
            "work_email_domains",
            "webhook_allowed_hosts",
            "handover_hr_leads",
        ):
            if name in get:
                kwargs[name] = _split(get[name])
        for name in (
            "connection_retention_days",
            "idempotency_retention_days",
            "credential_max_age_days",
            "recertification_days",
            "session_hours",
            "login_max_failures",
            "login_max_failures_per_client",
            "login_window_seconds",
            "sqlite_pool_size",
            "pg_pool_max",
            "outbox_max_attempts",
            "outbox_batch_size",
            "outbox_retention_days",
            "digest_hour_utc",
            "handover_reveal_days",
        ):
            if name in get:
                try:
                    kwargs[name] = int(get[name])
                except ValueError as exc:
                    raise SystemExit(f"REGISTER_{name.upper()} must be a whole number") from exc
                low, high = INT_LIMITS.get(name, (None, None))
                if low is not None and not low <= kwargs[name] <= high:
                    raise SystemExit(f"REGISTER_{name.upper()} must be between {low} and {high}")
        for name in (
            "webhook_connect_timeout",
            "webhook_read_timeout",
            "outbox_backoff_seconds",
            "outbox_backoff_max_seconds",
            "outbox_lease_seconds",
            "outbox_poll_seconds",
            "replica_max_lag_seconds",
            "replica_check_seconds",
        ):
            if name in get:
                try:
                    kwargs[name] = float(get[name])
                except ValueError as exc:
                    raise SystemExit(
                        f"REGISTER_{name.upper()} must be a number of seconds"
                    ) from exc
        if "worker_in_process" in get:
            flag = get["worker_in_process"].strip().lower()
            if flag not in ("true", "false", "1", "0", "yes", "no"):
                raise SystemExit("REGISTER_WORKER_IN_PROCESS must be true or false")
            kwargs["worker_in_process"] = flag in ("true", "1", "yes")
        if get.get("database_replica_urls", "").strip():
            kwargs["database_replica_urls"] = _replica_urls(get["database_replica_urls"])
        if get.get("group_roles", "").strip():
            kwargs["group_roles"] = _group_roles(get["group_roles"])
        kwargs.update(_oidc(get))
        kwargs.update(_mail_settings(get))
        settings = cls(**kwargs)  # type: ignore[arg-type]
        for entry in settings.forwarded_allow_ips:
            try:
                if entry != "*":
                    ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise SystemExit(
                    f"REGISTER_FORWARDED_ALLOW_IPS: {entry!r} is not an address or network"
                ) from exc
        if settings.env not in ("development", "production"):
            raise SystemExit("REGISTER_ENV must be 'development' or 'production'")
        _check_mail(settings)
        _check_replicas(settings)
        longest_send = settings.webhook_connect_timeout + 2 * settings.webhook_read_timeout
        if settings.outbox_lease_seconds <= longest_send:
            # A lease that ends while its worker may still be sending lets another worker send
            # the same attempt again.
            raise SystemExit(
                f"REGISTER_OUTBOX_LEASE_SECONDS ({settings.outbox_lease_seconds:g}) must be longer "
                f"than the longest send, connect + 2 x read timeout ({longest_send:g} s)"
            )
        return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings.from_env()
