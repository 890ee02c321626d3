"""A fault-injecting HTTP proxy on 127.0.0.1, between `masreg pull` and the FHIR server.

On a seeded fraction of requests it answers 429 (Retry-After 0) or 503, resets the connection,
stalls past the client's read timeout, or sends a truncated body (full Content-Length, half the
bytes); the faults take turns so that every kind is injected. Other requests are forwarded,
with the server's own URL rewritten to the proxy's in bodies and location headers, so that
next links and bulk file URLs lead back through the proxy.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("429", "503", "reset", "stall", "truncate")
_HOP = {"connection", "transfer-encoding", "content-length", "keep-alive", "date", "server"}


class FaultProxy:
    """Forwards to `upstream` (``http://127.0.0.1:port``); `rate` of requests get a fault."""

    def __init__(self, upstream: str, *, rate: float, seed: int, stall: float) -> None:
        self.upstream = upstream.rstrip("/")
        self.rate = rate
        self.stall = stall
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.injected: Counter[str] = Counter()
        self.forwarded = 0
        self._turn = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def choose(self) -> str | None:
        with self.lock:
            if self.random.random() >= self.rate:
                self.forwarded += 1
                return None
            fault = FAULTS[self._turn % len(FAULTS)]
            self._turn += 1
            self.injected[fault] += 1
            return fault

    def cancel(self, fault: str) -> None:
        """Take back a fault that could not be injected (nothing to truncate in an empty body)."""
        with self.lock:
            self.injected[fault] -= 1
            self.injected += Counter()  # drop zero counts
            self.forwarded += 1
            self._turn -= 1  # the next fault is this one again

    def rewrite(self, data: bytes) -> bytes:
        return data.replace(self.upstream.encode(), self.url.encode())


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            fault = proxy.choose()
            if fault in ("429", "503"):
                self._answer(int(fault), b'{"resourceType":"OperationOutcome","issue":[]}')
            elif fault == "reset":
                self._reset()
            elif fault == "stall":
                time.sleep(proxy.stall)
                self._reset()
            else:
                status, headers, data = self._forward(body)
                if fault == "truncate" and len(data) < 2:
                    proxy.cancel(fault)
                    fault = None
                self._send(status, headers, data, truncate=fault == "truncate")
            self.close_connection = True

        def _forward(self, body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
            parts = urlsplit(proxy.upstream)
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            conn.close()
            kept = [
                (k, proxy.rewrite(v.encode("latin-1")).decode("latin-1"))
                for k, v in response.getheaders()
                if k.lower() not in _HOP
            ]
            return response.status, kept, proxy.rewrite(data)

        def _answer(self, status: int, data: bytes) -> None:
            headers = [("Content-Type", "application/fhir+json"), ("Retry-After", "0")]
            self._send(status, headers if status == 429 else headers[:1], data, truncate=False)

        def _send(
            self, status: int, headers: list[tuple[str, str]], data: bytes, *, truncate: bool
        ) -> None:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if truncate else data)
            self.wfile.flush()
            if truncate:
                self._reset()

        def _reset(self) -> None:
            linger = struct.pack("ii", 1, 0)  # close with RST, not FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.connection.close()

    return Handler
