"""A private Mosquitto broker for tests: its own port, config and (optionally) password file and ACL."""

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    config: Path

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

    def restart(self) -> None:
        """Start the broker again on the same port and config (after :meth:`stop`)."""
        self.process = _launch(self.config, self.port)


def start_mosquitto(directory: Path, *, extra_config: str = "", persistence: bool = False) -> Broker:
    """Start ``mosquitto`` on a free loopback port with a generated config and wait until it accepts connections."""
    port = free_port()
    config = directory / "mosquitto.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "max_queued_messages 100000"]
    if persistence:
        lines += ["persistence true", f"persistence_location {directory}/"]
    config.write_text("\n".join(lines) + "\n" + extra_config)
    return Broker("127.0.0.1", port, _launch(config, port), config)


def _launch(config: Path, port: int) -> subprocess.Popen[bytes]:
    executable = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    log_path = config.parent / "mosquitto.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen([executable, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {log_path.read_text()}") from None
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("mosquitto did not start listening in 10 s")
