"""A lean HTTP/1.1 load generator for webhook deliveries: kept-alive raw sockets, bodies signed ahead.

A general client (httpx) spends about a millisecond of CPU per request; on a two-core machine that
would compete with the daemon being measured. Here a request is a prepared ``bytes`` written to a
socket and an answer is a status line, headers and a ``Content-Length`` body read back::

    sender = Sender("127.0.0.1", 8080, "/webhooks/jira")
    status = await sender.post(body, {"X-Hub-Signature": ...})
"""

from __future__ import annotations

import asyncio
import contextlib


class Connection:
    """One kept-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> int:
        """Send a prepared request; the answer's status (its body is read and dropped)."""
        self.writer.write(raw)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        close = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value.strip())
            elif lowered == b"connection" and value.strip().lower() == b"close":
                close = True
        if length:
            await self.reader.readexactly(length)
        if close:
            raise ConnectionResetError("the server asked to close the connection")
        return status

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self.writer.wait_closed()


def prepare(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A complete POST request as bytes."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Pool:
    """Up to ``size`` kept-alive connections handed out one request at a time."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host = host
        self.port = port
        self.size = size
        self._idle: asyncio.Queue[Connection] = asyncio.Queue()
        self._opened = 0

    async def send(self, raw: bytes) -> int:
        if self._idle.empty() and self._opened < self.size:
            self._opened += 1
            try:
                conn = await Connection.open(self.host, self.port)
            except BaseException:
                self._opened -= 1
                raise
        else:
            conn = await self._idle.get()
        try:
            status = await conn.request(raw)
        except (ConnectionError, asyncio.IncompleteReadError):
            self._opened -= 1
            await conn.close()
            raise
        self._idle.put_nowait(conn)
        return status

    async def close(self) -> None:
        while not self._idle.empty():
            await self._idle.get_nowait().close()
