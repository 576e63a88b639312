"""Real things that never answer: a TCP server on 127.0.0.1 that accepts and stays silent."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class SilentServer:
    """Accepts connections on 127.0.0.1 and never sends a byte until ``hang_up()``."""

    url: str
    accepted: threading.Event = field(default_factory=threading.Event)
    _conns: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hang_up(self) -> None:
        """Close every accepted connection (the client sees the peer go away)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()


@contextmanager
def silent_http_server() -> Iterator[SilentServer]:
    """A server whose URL accepts the connection and then never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    server = SilentServer(f"http://127.0.0.1:{port}")

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed at exit
            with server._lock:
                server._conns.append(conn)
            server.accepted.set()

    thread = threading.Thread(target=accept, name="silent-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        with contextlib.suppress(OSError):  # shutdown wakes the blocked accept() on Linux
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        server.hang_up()
        thread.join(5)
