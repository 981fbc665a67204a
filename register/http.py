"""HTTP plumbing: trusted proxies, allowed hosts, security headers, and Idempotency-Key replay."""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import ipaddress
import json
import re
import secrets
import tempfile
import unicodedata
from typing import Any
from urllib.parse import quote

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import ClientException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from register import audit
from register.access import allowed, awaits_new_password
from register.actor import Actor
from register.auth import _request_id
from register.db import before_commit, get_engine, now, on_commit, write_transaction
from register.errors import PROBLEM_BASE, PROBLEM_JSON, Conflict
from register.i18n import N_
from register.openapi import DOCS_CSP, DOCS_PATH
from register.queries import is_unique_violation
from register.replicas import read_scope
from register.tables import IdempotencyRecord

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# Pages: scripts and styles from the register only (htmx runs without eval), no inline script.
PAGE_CSP = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
)
NO_STORE = (b"cache-control", b"no-store")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
IN_PROGRESS_TTL = dt.timedelta(minutes=5)
# The states of an IdempotencyRecord before its answer is kept (an answer's status is 100-599).
# RUNNING: nothing the request did has committed. CHANGED: a change it made has committed (the
# record was marked in that change's own transaction), but its answer is not kept (yet).
RUNNING = 0
CHANGED = 1


async def send_problem(
    send: Send,
    status: int,
    kind: str,
    title: str,
    detail: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
    members: dict[str, Any] | None = None,
) -> None:
    """Answer with a problem document straight from middleware."""
    body = json.dumps(
        {
            "type": PROBLEM_BASE + kind,
            "title": title,
            "status": status,
            "detail": detail,
            **(members or {}),
        }
    ).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# Deeper than any request the register takes, and far below where a recursive decoder gives up.
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests arrays and objects deeper than `limit`, found without decoding it."""
    # Counting the openers (in C) settles nearly every body; only one with more openers than the
    # limit is scanned, its strings dropped and only its brackets walked.
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for byte in _JSON_STRING.sub(b"", body).translate(None, _NOT_A_BRACKET):
        if byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class BoundedRequest(Request[Any, Any, Any]):
    """A request whose JSON body is refused with 400 when it nests deeper than MAX_JSON_DEPTH."""

    async def json(self) -> Any:
        """The decoded JSON body, once its depth is known to be bounded."""
        # msgspec decodes recursively: a body nested a thousand levels deep ends in RecursionError,
        # a 500 with a traceback per request that anyone can send without signing in. Checked
        # here, where the handler asks for its body, the route's guard has already decided access.
        if json_too_deep(await self.body()):
            raise ClientException(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
        return await super().json()


def _host(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"host":
            host = value.decode("latin-1").strip().lower()
            if host.startswith("["):
                return host.split("]")[0] + "]"
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


class ProxyHeaders:
    """Take the client address and scheme from X-Forwarded-For/-Proto when a trusted proxy sent them.

    Only the direct peer's word counts, and only if it is trusted (REGISTER_FORWARDED_ALLOW_IPS):
    anyone else could write any address into the header and dodge the per-client sign-in limit.
    Of the forwarded chain, the right-most address that is not itself a trusted proxy is the client.
    """

    def __init__(self, app: ASGIApp, trusted: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.app = app
        self.trust_all = "*" in trusted
        self.networks = [
            ipaddress.ip_network(entry, strict=False) for entry in trusted if entry != "*"
        ]
        # Parsing an address costs more than the rest of this middleware: remember the answers.
        self._seen: dict[str, bool] = {}

    def _trusted(self, host: str) -> bool:
        if self.trust_all:
            return True
        known = self._seen.get(host)
        if known is None:
            try:
                address = ipaddress.ip_address(host)
                known = any(address in network for network in self.networks)
            except ValueError:
                known = False
            if len(self._seen) < 10_000:
                self._seen[host] = known
        return known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("client") and self._trusted(scope["client"][0]):
            headers = dict(scope.get("headers", []))
            proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
            chain = [
                part.strip()
                for part in headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",")
                if part.strip()
            ]
            if chain:
                client = next((h for h in reversed(chain) if not self._trusted(h)), chain[0])
                # The audit trail keeps 64 characters of an address.
                scope["client"] = (client[:64], 0)
        await self.app(scope, receive, send)


class AllowedHosts:
    """Refuse requests whose Host header is not one the register serves, before any routing.

    It wraps the application's whole ASGI handler (not one route), so an unknown path with a
    foreign Host gets 400 too.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...] = ("*",)) -> None:
        self.app = app
        self.allowed_hosts = tuple(h.lower() for h in allowed_hosts)

    def _host_ok(self, host: str) -> bool:
        return any(
            pattern == "*" or fnmatch.fnmatchcase(host, pattern) for pattern in self.allowed_hosts
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._host_ok(_host(scope)):
            await send_problem(
                send,
                400,
                "host-not-allowed",
                "Host not allowed",
                "this Host header is not served here; see REGISTER_ALLOWED_HOSTS",
            )
            return
        await self.app(scope, receive, send)


def _page_csp(scope: Scope) -> tuple[bytes, bytes]:
    """The pages' CSP; with company sign-in, forms may also lead to the provider (its sign-out)."""
    app = scope.get("litestar_app")
    origin = app.state.get("form_action", "") if app is not None else ""
    if not origin:
        return PAGE_CSP
    return (
        PAGE_CSP[0],
        PAGE_CSP[1].replace(b"form-action 'self'", f"form-action 'self' {origin}".encode()),
    )


async def security_headers(message: Message, scope: Scope) -> None:
    """Add security headers to every response, and no-store to API answers (a before_send hook)."""
    if message["type"] != "http.response.start":
        return
    extra = list(SECURITY_HEADERS)
    path = scope.get("path", "")
    if path.startswith("/api/"):
        extra += [API_CSP, NO_STORE]
    elif path == DOCS_PATH or path.startswith(DOCS_PATH + "/"):
        extra.append((b"content-security-policy", DOCS_CSP.encode()))
    else:
        extra.append(_page_csp(scope))
    if scope.get("scheme") == "https":
        extra.append(HSTS)
    present = {k.lower() for k, _ in message.get("headers", [])}
    if b"x-request-id" not in present:
        # Answers the router gives before any route middleware has run (unknown path, wrong
        # method) carry a request id too; routed answers got theirs from the auth middleware.
        request_id = scope.get("state", {}).get("request_id") or _request_id(scope)
        extra.append((b"x-request-id", request_id.encode()))
    message["headers"] = [
        *message.get("headers", []),
        *[(k, v) for k, v in extra if k not in present],
    ]


def attachment(filename: str, fallback: str = "download") -> str:
    """A Content-Disposition for a download under a name its uploader chose, in any script."""
    # HTTP headers are Latin-1: the plain filename is an ASCII stand-in (accents dropped, other
    # characters removed) and filename* carries the real name, UTF-8 percent-encoded (RFC 6266).
    printable = "".join(c for c in filename if unicodedata.category(c)[0] not in "CZ" or c == " ")
    folded = unicodedata.normalize("NFKD", printable).encode("ascii", "ignore").decode()
    base, dot, ext = folded.rpartition(".")
    if not (dot and re.fullmatch(r"[A-Za-z0-9]{1,10}", ext)):
        base, ext = folded, ""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", base).strip("_")[:100]
    if not any(c.isalnum() for c in base):
        base = fallback
    plain = f"{base}.{ext}" if ext else base
    real = printable.strip()[:255] or plain
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(real, safe='')}"


async def _in_progress(send: Send) -> None:
    """409 to a retry of a request that has not answered yet: try again in a second."""
    await send_problem(
        send,
        409,
        "conflict",
        "Conflict",
        "a request with this Idempotency-Key is still in progress",
        [(b"retry-after", b"1")],
    )


def _age(record: dict[str, Any]) -> dt.timedelta:
    created = record["created_at"]
    if isinstance(created, str):
        created = dt.datetime.fromisoformat(created)
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return now() - created


def _abandoned(record: dict[str, Any], kept: dt.timedelta) -> bool:
    # A key is remembered for REGISTER_IDEMPOTENCY_RETENTION_DAYS. One still running after minutes, with no change committed,
    # belongs to a request whose process died (or that is merely slow): a retry may take the key
    # over and run, for that request's change can then no longer commit (see _KeyedRun.mark).
    age = _age(record)
    return age > kept or (record["status_code"] == RUNNING and age > IN_PROGRESS_TTL)


async def _answer_lost(send: Send, record: dict[str, Any]) -> None:
    """409 to a retry of a request that made its change but never kept its answer: not run again."""
    try:
        changes = json.loads(record["body"]).get("changes", [])
    except (ValueError, AttributeError):
        changes = []
    named = "; ".join(f"{c['action']} {c['object_type']} {c['object_id']}".strip() for c in changes)
    await send_problem(
        send,
        409,
        "idempotency-answer-lost",
        "Answer lost",
        "the first request with this Idempotency-Key made its change, but its answer was lost "
        "(the server stopped before keeping it), so it is not run again"
        + (f": {named}" if named else "")
        + "; `changes` names what it recorded: read that rather than send the request again",
        [(b"idempotent-replayed", b"true")],
        {"changes": changes},
    )


class _KeyedRun:
    """A request with an Idempotency-Key as it runs: its record, and what it has committed."""

    def __init__(self) -> None:
        # The record's body begins with this run's own mark while it runs: a row id alone could
        # name the record of a retry that took the key over (SQLite reuses a deleted row's id).
        self.run = secrets.token_hex(16)
        self.notes: list[tuple[Any, dict[str, str]]] = []
        self.changes: list[dict[str, str]] = []
        self.marked = False
        self.closed = False
        self.record = IdempotencyRecord.id.is_null()

    def inserted(self, record_id: int) -> None:
        """Its record is written (RUNNING, with body())."""
        self.record = (
            (IdempotencyRecord.id == record_id)
            & IdempotencyRecord.status_code.is_in([RUNNING, CHANGED])
            & IdempotencyRecord.body.like(f'{{"run": "{self.run}"%')
        )

    def body(self, **more: Any) -> str:
        """The record's body while no answer is kept."""
        return json.dumps({"run": self.run, "changes": self.changes, **more})

    async def mark(self) -> None:
        """Inside each of the request's write transactions: mark its record CHANGED as it commits."""
        if self.closed:
            return
        tx = get_engine().current_transaction.get()
        mine = [named for written_by, named in self.notes if written_by is tx]
        if self.marked and not mine:
            return
        changes = [*self.changes, *mine]
        # Only a record still this run's and not yet answered: one a retry took over as
        # abandoned is gone, and this change must then not commit (the retry does it instead).
        taken = (
            await IdempotencyRecord.update(
                {
                    IdempotencyRecord.status_code: CHANGED,
                    IdempotencyRecord.body: self.body(changes=changes),
                }
            )
            .where(self.record)
            .returning(IdempotencyRecord.id)
        )
        if not taken:
            raise Conflict(
                N_(
                    "this request's Idempotency-Key was taken over by a retry after this request "
                    "ran too long; this request made no change"
                )
            )

        def committed() -> None:
            self.marked, self.changes = True, changes

        on_commit(committed)


_BOUNDARY = re.compile(rb'boundary="?([^";,\s]+)"?', re.IGNORECASE)


class RequestDigest:
    """SHA-256 of what makes two requests the same (path, query and body), fed the body in chunks."""

    def __init__(self, scope: Scope) -> None:
        self._sha = hashlib.sha256(
            b"\n".join([scope["path"].encode(), scope.get("query_string", b""), b""])
        )
        self._boundary = b""
        for name, value in scope.get("headers", []):
            if name == b"content-type" and value.lower().startswith(b"multipart/"):
                # Clients pick a random multipart boundary per request; a retry of the same
                # upload must hash the same, so the boundary is taken out.
                m = _BOUNDARY.search(value)
                if m:
                    self._boundary = m.group(1)
        self._tail = b""

    def update(self, chunk: bytes) -> None:
        """Hash the next part of the body, as if the boundary were replaced in the whole body."""
        if not self._boundary:
            self._sha.update(chunk)
            return
        data, size = self._tail + chunk, len(self._boundary)
        # The last size - 1 bytes may begin a boundary the next chunk completes: they wait,
        # unless a boundary found before them (scanning left to right, as replace() does)
        # runs into them.
        cut = len(data) - (size - 1)
        end, found = 0, data.find(self._boundary)
        while found != -1 and found < cut:
            end = found + size
            found = data.find(self._boundary, end)
        cut = max(cut, end, 0)
        self._sha.update(data[:cut].replace(self._boundary, b"BOUNDARY"))
        self._tail = data[cut:]

    def hexdigest(self) -> str:
        """The digest of the whole body (call once, after the last chunk)."""
        self._sha.update(self._tail)
        self._tail = b""
        return self._sha.hexdigest()


def request_digest(scope: Scope, body: bytes) -> str:
    """SHA-256 of what makes two requests the same: path, query and body."""
    digest = RequestDigest(scope)
    digest.update(body)
    return digest.hexdigest()


# A body up to this size is replayed from memory; a larger one (an upload) from a temporary file.
SPOOL_BYTES = 1 << 20
REPLAY_CHUNK = 1 << 16


def _without_secrets(body: bytes, fields: tuple[str, ...]) -> str:
    """The answer to keep for replay, with the fields shown once taken out ('' if unreadable)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(answer, dict):
        return ""
    return json.dumps({k: v for k, v in answer.items() if k not in fields})


class IdempotencyMiddleware(ASGIMiddleware):
    """Replay the first answer to a POST with the same Idempotency-Key and body; 422 on a new body.

    Only routes that opt in (`opt={"idempotent": True}`) take part: creating POSTs. Answers with
    secrets (a new token, a one-time password, a revealed credential) are never stored: such
    routes do not opt in, or (creating a subscription, whose answer holds its signing secret)
    name the fields shown once in `opt={"shown_once": (...)}`. A replay is given only to a caller
    still allowed the route's action; otherwise the request goes on to the guard, which refuses
    and audits it.

    A record keeps an answer without its fields shown once, and a retry of such a successful
    request gets 409 `secret-shown-once` with that answer, not the secret. Keeping the secret
    encrypted under the key ring for the replay was the other way: it would show a secret twice
    (to anyone holding the caller's token while the key is kept), tie replay records to key rotation and
    rewrap, and a client that lost the answer can rotate the secret, which is audited.

    The answer is kept in its own transaction after the change commits, so a server may stop
    between the two. The change's own transaction therefore marks the record CHANGED (see
    _KeyedRun.mark): a retry then never runs the change again but, once the request cannot still
    be answering, gets 409 `idempotency-answer-lost` naming what was recorded. Running the whole
    request in one transaction, answer included, was the other way: it would hold SQLite's only
    writer (and on PostgreSQL the audit chain's lock) through a streamed upload and the writing of
    the answer, and take from handlers the transactions they choose.
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        key = None
        handler = scope.get("route_handler")
        opted_in = handler is not None and (handler.opt or {}).get("idempotent") is True
        if scope.get("method") == "POST" and opted_in:
            for name, value in scope.get("headers", []):
                if name == b"idempotency-key":
                    key = value.decode("latin-1").strip()
        actor: Actor | None = scope.get("user")
        action = (handler.opt or {}).get("action", "") if handler is not None else ""
        shown_once = tuple((handler.opt or {}).get("shown_once", ())) if handler else ()
        # Whatever the guard would refuse goes on to the guard, which refuses and audits it.
        if (
            not key
            or actor is None
            or actor.user_id is None
            or not allowed(action, actor.role)
            or not scope.get("auth", {}).get("csrf_ok", True)
            or awaits_new_password(actor, action)
        ):
            await next_app(scope, receive, send)
            return
        if len(key) > 200:
            await send_problem(
                send,
                422,
                "invalid-input",
                "Invalid input",
                "Idempotency-Key must be at most 200 characters",
            )
            return
        # The body is read here, before Litestar would enforce its size limit, so enforce it here.
        # It is hashed as it arrives and kept in a file past SPOOL_BYTES, so an upload with a key
        # costs no more memory than one without.
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
            limit = handler.resolve_request_max_body_size()
            hashing = RequestDigest(scope)
            size = 0
            more = True
            while more:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if limit is not None and size > limit:
                    await send_problem(
                        send,
                        413,
                        "too-large",
                        "Request body too large",
                        f"the body exceeds {limit} bytes",
                    )
                    return
                hashing.update(chunk)
                body.write(chunk)
                more = message.get("more_body", False)
            body.seek(0)
            await self._keyed(
                scope,
                receive,
                send,
                next_app,
                key=key,
                actor=actor,
                shown_once=shown_once,
                body=body,
                size=size,
                digest=hashing.hexdigest(),
            )

    async def _keyed(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        next_app: ASGIApp,
        *,
        key: str,
        actor: Actor,
        shown_once: tuple[str, ...],
        body: Any,
        size: int,
        digest: str,
    ) -> None:
        """Replay the answer kept for this key, or run the request and keep its answer."""
        scope_id = str(actor.user_id)
        where = (IdempotencyRecord.scope == scope_id) & (IdempotencyRecord.key == key)
        kept = dt.timedelta(days=scope["app"].state.settings.idempotency_retention_days)
        existing = await IdempotencyRecord.select().where(where).first()
        if existing and _abandoned(existing, kept):
            # Taken over only as it was read: on PostgreSQL a request marking its change at this
            # moment holds the row, and once it commits the row is CHANGED and not deleted.
            still = (
                (IdempotencyRecord.id == existing["id"])
                & (IdempotencyRecord.status_code == existing["status_code"])
                & (IdempotencyRecord.body == existing["body"])
            )
            async with write_transaction():
                gone = (
                    await IdempotencyRecord.delete()
                    .where(where & still)
                    .returning(IdempotencyRecord.id)
                )
            existing = None if gone else await IdempotencyRecord.select().where(where).first()
        if existing:
            if existing["request_hash"] != digest:
                await send_problem(
                    send,
                    422,
                    "idempotency-key-reused",
                    "Idempotency key reused with a different request",
                    "this Idempotency-Key was used with a different request; use a new key",
                )
                return
            if existing["status_code"] == CHANGED:
                finished = json.loads(existing["body"] or "{}").get("failed", False)
                if finished or _age(existing) > IN_PROGRESS_TTL:
                    await _answer_lost(send, existing)
                else:
                    # Its answer may be a moment away.
                    await _in_progress(send)
                return
            if existing["status_code"] == RUNNING:
                await _in_progress(send)
                return
            if shown_once and 200 <= existing["status_code"] < 300:
                await send_problem(
                    send,
                    409,
                    "secret-shown-once",
                    "Secret shown once",
                    f"the first answer to this Idempotency-Key held {', '.join(shown_once)}, which "
                    "is shown once and not kept; `answer` is that answer without it (rotate the "
                    "secret to get a new one)",
                    [(b"idempotent-replayed", b"true")],
                    {"answer": json.loads(existing["body"]) if existing["body"] else None},
                )
                return
            payload = existing["body"].encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": existing["status_code"],
                    "headers": [
                        (b"content-type", existing["content_type"].encode()),
                        (b"content-length", str(len(payload)).encode()),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        run = _KeyedRun()
        try:
            async with write_transaction():
                # Clearing expired keys here needs no scheduler.
                await IdempotencyRecord.delete().where(IdempotencyRecord.created_at < now() - kept)
                inserted = await IdempotencyRecord.insert(
                    IdempotencyRecord(
                        scope=scope_id,
                        key=key,
                        request_hash=digest,
                        status_code=RUNNING,
                        body=run.body(),
                        created_at=now(),
                    )
                )
        except Exception as exc:
            if not is_unique_violation(exc):
                raise
            # A concurrent request took the key first.
            await _in_progress(send)
            return
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                chunk = body.read(REPLAY_CHUNK)
                replayed = body.tell() >= size
                return {"type": "http.request", "body": chunk, "more_body": not replayed}
            return await receive()

        status = 500
        content_type = "application/json"
        out: list[bytes] = []
        kept = False

        async def keep_answer() -> None:
            nonlocal kept
            kept = True
            # Writes from here on (this one, a background task after the answer) are not the
            # request's change.
            run.closed = True
            answer = b"".join(out)
            stored = (
                _without_secrets(answer, shown_once)
                if shown_once and status < 300
                else answer.decode("utf-8", "replace")
            )
            async with write_transaction():
                if status < 500:
                    await IdempotencyRecord.update(
                        {
                            IdempotencyRecord.status_code: status,
                            IdempotencyRecord.content_type: content_type[:120],
                            IdempotencyRecord.body: stored,
                        }
                    ).where(run.record)
                elif run.marked:
                    # It failed after a change of it committed: a retry must not make it again.
                    await IdempotencyRecord.update(
                        {IdempotencyRecord.body: run.body(failed=True)}
                    ).where(run.record)
                else:
                    await IdempotencyRecord.delete().where(run.record)

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # Kept before the answer's last bytes leave: a client that has the answer
                    # and sends the key again, to this server or another, is replayed it rather
                    # than told the first request is still in progress.
                    await keep_answer()
            await send(message)

        run.inserted(inserted[0]["id"])
        noting = audit.NOTES.set(run.notes)
        try:
            # Every write transaction of the request marks the record as it commits, so a retry
            # after a crash between the change's commit and keep_answer() finds CHANGED, never a
            # key free to run the change again.
            with before_commit(run.mark):
                await next_app(scope, replay_receive, capture)
        finally:
            audit.NOTES.reset(noting)
            if not kept:
                # No complete answer (the handler failed, the client went away): the key is
                # freed, or the partial answer kept, as the status says.
                await keep_answer()


RECENT_WRITE_COOKIE = "register_recent_write"


def _has_cookie(scope: Scope, name: str) -> bool:
    prefix = name.encode() + b"="
    for header, value in scope.get("headers", []):
        if header == b"cookie" and any(p.strip().startswith(prefix) for p in value.split(b";")):
            return True
    return False


class ReplicaReads(ASGIMiddleware):
    """The one place that decides whether a request's reads may go to a read replica.

    A route opts in with `opt={"replica_reads": True}`: read-only GETs whose data may be a moment
    behind (lists, search, reports, metrics, exports). A request that writes gets the
    `register_recent_write` cookie, lasting the lag bound and one check; while a client sends it
    back, all its reads go to the primary, so a POST followed by a GET of the list shows the
    write. Within one request, reads after the first write go to the primary (register.db).
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        engine = get_engine()
        if not getattr(engine, "replicas", None):
            await next_app(scope, receive, send)
            return
        handler = scope.get("route_handler")
        replica_ok = (
            handler is not None
            and (handler.opt or {}).get("replica_reads") is True
            and scope.get("method") in ("GET", "HEAD")
            and not _has_cookie(scope, RECENT_WRITE_COOKIE)
        )
        max_age = scope["app"].state.settings.recent_write_seconds
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = (
            f"{RECENT_WRITE_COOKIE}=1; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}"
        ).encode()
        with read_scope(replica_ok=replica_ok) as reads:

            async def mark_writers(message: Message) -> None:
                if message["type"] == "http.response.start" and reads.wrote:
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
                await send(message)

            await next_app(scope, receive, mark_writers)
