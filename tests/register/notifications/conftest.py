"""Fixtures of the notification suites: a real webhook receiver and SMTP server, fast settings, a full outbox."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from register.db import write_transaction
from register.notifications.enums import OutboxState
from register.notifications.flows import (
    Worker,
    publish,
)
from register.notifications.tables import OutboxMessage
from register.settings import Settings


@dataclass
class Received:
    """One request the receiver answered."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1, behaving per path.

    Every request is counted per path; `requests` keeps the ones answered 2xx (deliveries).
    /ok answers 204; /flaky/N fails the first N requests with 503; /slow/S waits S seconds;
    /error answers 500; /gone answers 410; /redirect answers 302 to /ok.
    """

    requests: list[Received] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    port: int = 0
    server: asyncio.AbstractServer | None = None

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def start(self) -> Receiver:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                _, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.counts[path] = self.counts.get(path, 0) + 1
                status, extra = await self._answer(path, self.counts[path])
                if 200 <= status < 300:
                    self.requests.append(Received(path, headers, body))
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n{extra}\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, path: str, n: int) -> tuple[int, str]:
        parts = path.strip("/").split("/")
        if parts[0] == "flaky":
            return (503, "") if n <= int(parts[1]) else (204, "")
        if parts[0] == "slow":
            await asyncio.sleep(float(parts[1]))
            return 204, ""
        if parts[0] == "error":
            return 500, ""
        if parts[0] == "gone":
            return 410, ""
        if parts[0] == "redirect":
            return 302, f"location: {self.url('/ok')}\r\n"
        return 204, ""


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver started by the test, stopped after it."""
    r = await Receiver().start()
    yield r
    await r.stop()


def fast(settings: Settings, **overrides: Any) -> Settings:
    """Settings with delays short enough for a test."""
    values: dict[str, Any] = {
        "outbox_backoff_seconds": 0.01,
        "outbox_backoff_max_seconds": 0.05,
        "outbox_max_attempts": 4,
        "webhook_connect_timeout": 1.0,
        # Long enough for a loaded machine, short enough to test timeouts in a few seconds.
        "webhook_read_timeout": 1.0,
        "outbox_lease_seconds": 30.0,
    }
    values.update(overrides)
    return dataclasses.replace(settings, **values)


async def publish_many(n: int, event_type: str = "incident.filed", **kw: Any) -> list[str]:
    ids = []
    async with write_transaction():
        for i in range(n):
            ids.append(await publish(event_type, {"incident_id": i}, summary=f"Incident {i}", **kw))
    return ids


async def drain(worker: Worker, *, seconds: float = 10.0) -> None:
    """Run the worker until nothing is pending (or fail after `seconds`)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while await OutboxMessage.count().where(OutboxMessage.state == OutboxState.pending.value):
        assert asyncio.get_running_loop().time() < deadline, "outbox did not drain in time"
        result = await worker.run_once()
        if not result.claimed:
            await asyncio.sleep(0.02)


class Mailbox:
    """An aiosmtpd handler that keeps every mail it accepts and answers as it is told.

    `script` holds answers to give to the next RCPTs, one each ("451 4.3.0 busy"); `refuse`
    maps an address to the answer it always gets ("550 5.1.1 no such user"). Anything else is
    accepted.
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.script: list[str] = []
        self.refuse: dict[str, str] = {}
        self.rcpts = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.rcpts += 1
        if self.script:
            return self.script.pop(0)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """Mail received for one address."""
        return [m for m in self.messages if address in str(m["To"])]


@dataclass
class SmtpServer:
    """aiosmtpd's Controller on a loopback port of the test's; it can be stopped and started again."""

    mailbox: Mailbox = field(default_factory=Mailbox)
    port: int = 0
    controller: Controller | None = None

    def start(self) -> SmtpServer:
        if not self.port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1, started by the test, stopped after it."""
    server = SmtpServer().start()
    yield server
    server.stop()


def with_mail(settings: Settings, smtp: SmtpServer, **overrides: Any) -> Settings:
    """Settings that send e-mail to the test's SMTP server (plain: it is on loopback)."""
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_security": "none",
        "smtp_timeout": 2.0,
        "mail_from": "Social asset register <register@example.com>",
        "public_url": "https://register.example.com",
    }
    values.update(overrides)
    return dataclasses.replace(settings, **values)


async def make_due() -> None:
    """Time moves on: every waiting message is due now (backoff is not waited for in tests)."""
    await OutboxMessage.update(
        {OutboxMessage.due_at: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)}
    ).where(OutboxMessage.state == OutboxState.pending.value)
