"""A private Mosquitto broker for a benchmark: its own loopback port and generated config, never the system's.

The config lets the broker keep many QoS 1 messages in flight to each subscriber (``max_inflight_messages``):
the command centre acknowledges a message only after committing it, so with Mosquitto's default of 20 the
server could never hold more than 20 events in hand at once, and batching them into transactions would stall.
It also sends each packet at once (``set_tcp_nodelay``) rather than holding small ones back for TCP
acknowledgements, which would add up to 40 ms to each round trip. A deployment's broker wants both settings.
"""

import shutil
import socket
import subprocess
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from vigil.bench.cpu import pin_process
from vigil.errors import VigilError

MAX_INFLIGHT = 10_000


class BrokerUnavailable(VigilError):
    """The ``mosquitto`` program is missing or did not start."""


@dataclass
class PrivateBroker:
    """A running ``mosquitto`` process.

    Attributes:
        host: where it listens (loopback).
        port: its port.
        process: the process.
        log: its log file.
    """

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        """``mqtt://host:port``, as ``vigil serve --bus`` takes it."""
        return f"mqtt://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop the broker and wait for it to exit."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_broker(
    directory: Path, *, start_timeout_s: float = 10.0, cpus: Collection[int] | None = None
) -> PrivateBroker:
    """Start ``mosquitto`` on a free loopback port with a config written to ``directory``.

    Args:
        directory: for its config and log.
        start_timeout_s: how long to wait for it to listen.
        cpus: the CPUs it may run on, set right after it starts (Mosquitto serves every client from one thread, so
            pinning that thread pins the broker). None: not pinned.

    Returns:
        The broker, accepting connections.

    Raises:
        BrokerUnavailable: no ``mosquitto`` program, or it did not listen within ``start_timeout_s``.
    """
    executable = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )
    if executable is None:
        raise BrokerUnavailable("the benchmark needs the mosquitto broker (Debian: apt-get install mosquitto)")
    port = free_port()
    config = directory / "mosquitto.conf"
    config.write_text(
        "\n".join(
            [
                f"listener {port} 127.0.0.1",
                "allow_anonymous true",
                "persistence false",
                "set_tcp_nodelay true",
                f"max_inflight_messages {MAX_INFLIGHT}",
                "max_queued_messages 1000000",
                "",
            ]
        )
    )
    log = directory / "mosquitto.log"
    with log.open("ab") as out:
        process = subprocess.Popen([executable, "-c", str(config)], stdout=out, stderr=subprocess.STDOUT)
    if cpus is not None:
        try:
            pin_process(process.pid, cpus)
        except OSError as exc:
            process.kill()
            process.wait(10)
            raise BrokerUnavailable(f"mosquitto could not be pinned to CPUs {sorted(cpus)} ({exc})") from exc
    deadline = time.monotonic() + start_timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return PrivateBroker(host="127.0.0.1", port=port, process=process, log=log)
        except OSError:
            if process.poll() is not None:
                raise BrokerUnavailable(f"mosquitto exited at start: {log.read_text()[-2000:]}") from None
            time.sleep(0.05)
    process.kill()
    process.wait(10)
    raise BrokerUnavailable(f"mosquitto did not listen on port {port} within {start_timeout_s:g} s")


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
