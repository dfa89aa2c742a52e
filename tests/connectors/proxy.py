"""An HTTP proxy on loopback, as corporate networks have them (imported by path).

``mode="forward"`` relays plain HTTP requests (absolute-form request lines) and tunnels HTTPS
(``CONNECT``); ``mode="refuse"`` answers every request, ``CONNECT`` included, with 403 as a proxy
does for a destination its policy forbids. ``seen`` lists the request lines it received.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from typing import Any
from urllib.parse import urlsplit


class LoopbackProxy:
    def __init__(self, mode: str = "forward") -> None:
        self.mode = mode
        self.seen: list[str] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.connection, self.rfile)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True, name="proxy").start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, client: socket.socket, rfile: Any) -> None:
        while True:
            line = rfile.readline().decode("latin-1").strip()
            if not line:
                return
            headers: list[str] = []
            while (header := rfile.readline().decode("latin-1").rstrip("\r\n")) != "":
                headers.append(header)
            self.seen.append(line)
            method, target, _ = line.split(" ", 2)
            if self.mode == "refuse":
                body = b"blocked by policy"
                client.sendall(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=10)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._tunnel(client, upstream)
                return
            self._forward(client, rfile, method, target, headers)

    def _forward(
        self, client: socket.socket, rfile: Any, method: str, target: str, headers: list[str]
    ) -> None:
        url = urlsplit(target)
        length = next(
            (int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0
        )
        body = rfile.read(length) if length else b""
        kept = [h for h in headers if not h.lower().startswith(("proxy-", "connection:", "keep-alive:"))]
        path = url.path + (f"?{url.query}" if url.query else "")
        request = f"{method} {path or '/'} HTTP/1.1\r\n" + "".join(f"{h}\r\n" for h in kept)
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10) as upstream:
            upstream.sendall(request.encode("latin-1") + b"Connection: close\r\n\r\n" + body)
            answer = b""
            while chunk := upstream.recv(65536):
                answer += chunk
        head, _, rest = answer.partition(b"\r\n\r\n")
        lines = [h for h in head.split(b"\r\n") if not h.lower().startswith(b"connection:")]
        client.sendall(b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + rest)
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _tunnel(a: socket.socket, b: socket.socket) -> None:
        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        other = threading.Thread(target=pump, args=(b, a), daemon=True)
        other.start()
        pump(a, b)
        other.join(10)
        b.close()
