"""A TCP relay for wire-capture tests: it sits between a client and a server and records every byte, both ways.

What it records is what anyone on the path (a switch, a Wi-Fi access point, a mobile operator) could read.
"""

import contextlib
import socket
import threading
from collections.abc import Callable


class Relay:
    """Listens on a free loopback port and forwards each connection to ``upstream``, recording the bytes."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._captured = bytearray()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def captured(self) -> bytes:
        """Every byte relayed so far, in both directions."""
        with self._lock:
            return bytes(self._captured)

    def close(self) -> None:
        """Stop accepting, cut every relayed connection and wait for the relay's threads."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread, which close() alone does not
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(5)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets += [client, server]
            self._spawn(self._pump, client, server)
            self._spawn(self._pump, server, client)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_WR)
                return
            with self._lock:
                self._captured += data
            try:
                target.sendall(data)
            except OSError:
                return
