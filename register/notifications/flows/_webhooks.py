"""Webhook delivery: message formats (Slack, Teams, signed JSON), signing, the host allowlist, the client.

Every request carries the event id and an HMAC-SHA256 signature, whatever the format:

    X-Register-Event-Id:   <uuid4 hex, the same for every target and every retry of one event>
    X-Register-Event-Type: <event type>
    X-Register-Signature:  t=<unix seconds>,v1=<hex hmac_sha256(secret, f"{t}.{body}")>

Slack and Teams ignore the extra headers; a receiver of the generic JSON format verifies them
(see README, "Verifying a signature").
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from register.notifications.enums import WebhookFormat
from register.notifications.services import url_problem
from register.settings import Settings

SIGNATURE_HEADER = "X-Register-Signature"
EVENT_ID_HEADER = "X-Register-Event-Id"
EVENT_TYPE_HEADER = "X-Register-Event-Type"
ATTEMPT_HEADER = "X-Register-Attempt"
USER_AGENT = "social-asset-register-webhooks/1"
# Longest error text kept on an outbox message.
MAX_ERROR = 500


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = 300) -> bool:
    """Whether a signature header matches the body and is recent (the receiver's side)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return abs(time.time() - timestamp) <= tolerance and hmac.compare_digest(
        expected, parts.get("v1", "")
    )


# Formats -----------------------------------------------------------------------------------------

TITLES = {
    "incident.filed": "Incident filed",
    "incident.escalated": "Incident escalated",
    "incident.past_sla": "Incident past its SLA",
    "incident.closed": "Incident closed",
    "handover.started": "Handover started",
    "handover.item_overdue": "Handover item overdue",
    "handover.completed": "Handover completed",
    "risk.new_finding": "New risk finding",
    "recertification.due": "Re-certification due",
    "digest.daily": "Daily digest",
    "audit.checkpoint": "Audit trail signed",
    "test": "Test notification",
}


def _facts(payload: dict[str, Any], limit: int = 10) -> list[tuple[str, str]]:
    """Scalar payload fields as (label, text) pairs for chat cards."""
    out = []
    for key, value in payload.items():
        if key in ("sections", "url") or isinstance(value, dict | list) or value in (None, ""):
            continue
        out.append((key.replace("_", " ").capitalize(), str(value)[:300]))
        if len(out) == limit:
            break
    return out


def _sections(payload: dict[str, Any]) -> list[dict[str, Any]]:
    sections = payload.get("sections")
    return sections if isinstance(sections, list) else []


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(event: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: plain text fallback plus blocks."""
    title = TITLES.get(event["type"], event["type"])
    summary = _slack_escape(event["summary"])
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{summary}"}}
    ]
    payload = event.get("payload") or {}
    facts = _facts(payload)
    if facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{_slack_escape(k)}*\n{_slack_escape(v)}"}
                    for k, v in facts
                ],
            }
        )
    for section in _sections(payload):
        items = "\n".join(f"• {_slack_escape(str(i))}" for i in section.get("items", [])[:10])
        text = f"*{_slack_escape(str(section.get('title', '')))}*: {section.get('count', 0)}"
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{text}\n{items}".strip()}}
        )
    if isinstance(payload.get("url"), str):
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{payload['url']}|Open in the register>"},
            }
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"event {event['id']}"}]}
    )
    return {"text": f"{title}: {summary}", "blocks": blocks}


_TEAMS_MARKDOWN = re.compile(r"([\\`*_\[\]()#>~])")


def teams_text(text: Any) -> str:
    """Text shown literally in an Adaptive Card TextBlock, which renders Markdown.

    Summaries carry what people typed (an anonymous intake's title, say); unescaped, a
    "[Reset your password](https://...)" would arrive in the channel as the register's own link.
    """
    return _TEAMS_MARKDOWN.sub(r"\\\1", str(text))


def teams_message(event: dict[str, Any]) -> dict[str, Any]:
    """A Teams workflow webhook message carrying one Adaptive Card."""
    title = TITLES.get(event["type"], event["type"])
    payload = event.get("payload") or {}
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": teams_text(event["summary"]), "wrap": True},
    ]
    facts = _facts(payload)
    if facts:
        body.append(
            {"type": "FactSet", "facts": [{"title": k, "value": teams_text(v)} for k, v in facts]}
        )
    for section in _sections(payload):
        body.append(
            {
                "type": "TextBlock",
                "text": f"**{teams_text(section.get('title', ''))}**: {section.get('count', 0)}",
                "wrap": True,
                "separator": True,
            }
        )
        for item in section.get("items", [])[:10]:
            body.append(
                {
                    "type": "TextBlock",
                    "text": f"- {teams_text(item)}",
                    "wrap": True,
                    "spacing": "None",
                }
            )
    body.append(
        {"type": "TextBlock", "text": f"event {event['id']}", "isSubtle": True, "size": "Small"}
    )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if isinstance(payload.get("url"), str):
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open in the register", "url": payload["url"]}
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def render(fmt: str, event: dict[str, Any]) -> bytes:
    """The request body for one event in one format."""
    if fmt == WebhookFormat.slack:
        message = slack_message(event)
    elif fmt == WebhookFormat.teams:
        message = teams_message(event)
    else:
        message = event
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def headers_for(event: dict[str, Any], secret: str, body: bytes, attempt: int) -> dict[str, str]:
    """The signed headers of one request."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event["id"],
        EVENT_TYPE_HEADER: event["type"],
        ATTEMPT_HEADER: str(attempt),
        SIGNATURE_HEADER: sign(secret, int(time.time()), body),
    }


# Sending -----------------------------------------------------------------------------------------


# Seconds an idle keep-alive connection is reused for (httpx's own default keep-alive expiry).
IDLE_SECONDS = 5.0


class _ClosedBeforeAnswer(Exception):
    """The connection ended before a single byte of an answer came back."""


class DeliveryTransport(httpx.AsyncBaseTransport):
    """A lean HTTP/1.1 transport for webhook POSTs: keep-alive connections per origin on asyncio streams.

    httpx's default transport (httpcore over anyio and h11) costs about 30 times the CPU per
    request of this one, which decides how many events a worker sends per second. The client
    around it is unchanged: it builds the request, applies the timeouts (passed in the request's
    `timeout` extension) and never follows redirects.
    """

    def __init__(self, *, max_per_origin: int = 100, max_body: int = 1 << 20) -> None:
        # origin -> idle (reader, writer, since) connections, the newest last.
        self._idle: dict[
            tuple[str, str, int],
            list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]],
        ] = {}
        self._slots: dict[tuple[str, str, int], asyncio.Semaphore] = {}
        self._max_per_origin = max_per_origin
        self._max_body = max_body
        self._ssl: ssl.SSLContext | None = None

    async def _connect(
        self, scheme: str, host: str, port: int, within: float | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            async with asyncio.timeout(within):
                return await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} within {within}s") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc

    async def _read_response(
        self, reader: asyncio.StreamReader, method: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head[:-4].split(b"\r\n")
            parts = lines[0].split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
                raise httpx.RemoteProtocolError("not an HTTP/1.x response")
            status = int(parts[1])
            headers = []
            for line in lines[1:]:
                name, sep, value = line.partition(b":")
                if not sep:
                    raise httpx.RemoteProtocolError("malformed response header")
                headers.append((name.strip(), value.strip()))
            if status >= 200:
                break
        fields = {k.lower(): v for k, v in headers}
        keep = parts[0] == b"HTTP/1.1" and fields.get(b"connection", b"").lower() != b"close"
        if status in (204, 304) or method == b"HEAD":
            return status, headers, b"", keep
        if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            chunks = []
            size = 0
            while True:
                length = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                if length == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass
                    break
                size += length
                if size > self._max_body:
                    raise httpx.RemoteProtocolError("response body too large")
                chunks.append(await reader.readexactly(length))
                await reader.readexactly(2)
            return status, headers, b"".join(chunks), keep
        if b"content-length" in fields:
            length = int(fields[b"content-length"])
            if length > self._max_body:
                raise httpx.RemoteProtocolError("response body too large")
            return status, headers, await reader.readexactly(length), keep
        return status, headers, await reader.read(self._max_body), False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request on an idle or new connection of its origin; read the whole answer."""
        url = request.url
        scheme = url.scheme
        host = url.host
        port = url.port or (443 if scheme == "https" else 80)
        origin = (scheme, host, port)
        timeouts = request.extensions.get("timeout", {})
        slots = self._slots.get(origin)
        if slots is None:
            slots = self._slots[origin] = asyncio.Semaphore(self._max_per_origin)
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await slots.acquire()
        except TimeoutError as exc:
            raise httpx.PoolTimeout("no free connection in time") from exc
        try:
            idle = self._idle.setdefault(origin, [])
            reader, writer, reused = None, None, False
            while idle:
                reader, writer, since = idle.pop()
                fresh = time.monotonic() - since < IDLE_SECONDS
                if fresh and not reader.at_eof() and not writer.is_closing():
                    reused = True
                    break
                # Receivers and the NATs between drop idle connections silently; start anew.
                writer.close()
                reader, writer = None, None
            while True:
                if reader is None or writer is None:
                    reader, writer = await self._connect(
                        scheme, host, port, timeouts.get("connect")
                    )
                keep = False
                try:
                    status, headers, body, keep = await self._exchange(
                        reader, writer, request, timeouts
                    )
                except _ClosedBeforeAnswer as exc:
                    writer.close()
                    if reused:
                        # An idle connection the receiver had closed: once more on a new one.
                        reader, writer, reused = None, None, False
                        continue
                    raise httpx.ReadError(
                        "the receiver closed the connection without answering"
                    ) from exc
                except BaseException:
                    writer.close()
                    raise
                if keep:
                    idle.append((reader, writer, time.monotonic()))
                else:
                    writer.close()
                return httpx.Response(status, headers=headers, content=body, request=request)
        finally:
            slots.release()

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: httpx.Request,
        timeouts: dict[str, float | None],
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        """Write the request and read the whole answer on one connection."""
        head = [request.method.encode(), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        try:
            writer.write(b"".join(head) + request.content)
            async with asyncio.timeout(timeouts.get("write")):
                await writer.drain()
        except TimeoutError as exc:
            raise httpx.WriteTimeout("the receiver did not take the request in time") from exc
        except OSError as exc:
            raise _ClosedBeforeAnswer() from exc
        try:
            async with asyncio.timeout(timeouts.get("read")):
                return await self._read_response(reader, request.method.encode())
        except TimeoutError as exc:
            raise httpx.ReadTimeout("no answer from the receiver in time") from exc
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _ClosedBeforeAnswer() from exc
            raise httpx.RemoteProtocolError(f"cut-off answer: {exc}") from exc
        except (asyncio.LimitOverrunError, ValueError) as exc:
            raise httpx.RemoteProtocolError(f"bad answer: {exc}") from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from exc

    async def aclose(self) -> None:
        """Close every idle connection."""
        for connections in self._idle.values():
            for _, writer, _ in connections:
                writer.close()
        self._idle.clear()


def make_client(settings: Settings, *, max_connections: int | None = None) -> httpx.AsyncClient:
    """The one client a process delivers with: explicit timeouts, no redirects, no proxies from env."""
    limit = max_connections or max(10, settings.outbox_batch_size)
    # httpx logs every request at INFO; the outbox records outcomes itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=settings.webhook_connect_timeout,
            read=settings.webhook_read_timeout,
            write=settings.webhook_read_timeout,
            pool=settings.webhook_connect_timeout,
        ),
        follow_redirects=False,
        trust_env=False,
        transport=DeliveryTransport(max_per_origin=limit),
        headers={"User-Agent": USER_AGENT},
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one delivery attempt came to."""

    ok: bool
    status: int | None = None
    error: str = ""
    # True when retrying cannot help (redirect, refused host, most 4xx): dead-letter at once.
    final: bool = False
    # True on 410 Gone: the receiver is gone for good; the subscription is turned off.
    gone: bool = False
    # Seconds the receiver asked us to wait (429/503 Retry-After), if any.
    retry_after: float | None = None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def classify(response: httpx.Response) -> Outcome:
    """Turn a receiver's answer into an outcome."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(ok=True, status=status)
    if 300 <= status < 400:
        target = response.headers.get("location", "")[:200]
        return Outcome(
            ok=False,
            status=status,
            error=f"receiver answered {status} redirect to {target!r}; redirects are not followed",
            final=True,
        )
    snippet = response.text[:200].replace("\n", " ") if response.content else ""
    error = f"receiver answered {status}" + (f": {snippet}" if snippet else "")
    if status == 410:
        return Outcome(ok=False, status=status, error=error, final=True, gone=True)
    if status in (408, 425, 429) or status >= 500:
        return Outcome(
            ok=False,
            status=status,
            error=error,
            retry_after=_retry_after(response.headers.get("retry-after")),
        )
    return Outcome(ok=False, status=status, error=error, final=True)


async def send(
    client: httpx.AsyncClient,
    settings: Settings,
    url: str,
    body: bytes,
    headers: dict[str, str],
) -> Outcome:
    """POST one body; any failure becomes an Outcome, never an exception."""
    problem = url_problem(url, settings.webhook_allowed_hosts)
    if problem:
        # The outcome is kept in English, as every delivery error is ("url ..." -> "URL ...").
        return Outcome(ok=False, error=f"not sent: URL {str(problem)[4:]}", final=True)
    # httpx's read timeout is per read; the overall cap stops a receiver that drips bytes.
    budget = settings.webhook_connect_timeout + 2 * settings.webhook_read_timeout
    try:
        async with asyncio.timeout(budget):
            response = await client.post(url, content=body, headers=headers)
    except (TimeoutError, httpx.TimeoutException) as exc:
        return Outcome(ok=False, error=f"timed out ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
    except (httpx.InvalidURL, UnicodeError) as exc:
        # A host name that cannot be encoded or looked up will not get better by retrying.
        return Outcome(ok=False, error=f"not sent: URL {exc}"[:MAX_ERROR], final=True)
    except OSError as exc:
        return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
    return classify(response)
