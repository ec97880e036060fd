"""A private Mosquitto broker for tests: its own port, config and (optionally) Vigil's password file and ACL."""

import os
import shutil
import signal
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

    @property
    def log(self) -> Path:
        return self.config.parent / "mosquitto.log"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

    def restart(self) -> None:
        """Start the broker again on the same port and config (after :meth:`stop`)."""
        self.process = _launch(self.config, self.port)

    def reload(self, timeout_s: float = 5.0) -> None:
        """Have the running broker re-read its password file and ACL (SIGHUP), and wait until it has."""
        reloads = self.log.read_text().count("Reloading config")
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout_s
        while self.log.read_text().count("Reloading config") == reloads:
            if time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not reload in {timeout_s:g} s: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)


def start_mosquitto(
    directory: Path, *, extra_config: str = "", persistence: bool = False, auth_config: Path | None = None
) -> Broker:
    """Start ``mosquitto`` on a free loopback port with a generated config and wait until it accepts connections.

    Args:
        directory: for the config, the log and (with ``persistence``) the broker's database.
        extra_config: more config lines.
        persistence: keep sessions and queued messages on disk across :meth:`Broker.restart`.
        auth_config: config lines as ``vigil devices broker-config`` writes them (``mosquitto-vigil.conf``): a
            listener, then its password file and ACL. The broker includes them as Debian's does (``include_dir``)
            and listens on that listener only; anonymous clients are refused. Without it, anyone may connect.
    """
    config = directory / "mosquitto.conf"
    lines = ["max_queued_messages 100000"]
    if auth_config is None:
        port = free_port()
        lines = [f"listener {port} 127.0.0.1", *lines, "allow_anonymous true"]
    else:
        port = _listener_port(auth_config)
        included = directory / "conf.d"
        included.mkdir(exist_ok=True)
        (included / "vigil.conf").unlink(missing_ok=True)
        (included / "vigil.conf").symlink_to(auth_config.resolve())
        lines.append(f"include_dir {included}")
    if persistence:
        lines += ["persistence true", f"persistence_location {directory}/"]
    if os.geteuid() == 0:
        # Started as root, Mosquitto drops to the `mosquitto` user, who can read neither pytest's root-only
        # temporary folders (a password file, an ACL) nor save its persistence database there.
        lines.append("user root")
    config.write_text("\n".join(lines) + "\n" + extra_config)
    return Broker("127.0.0.1", port, _launch(config, port), config)


def _listener_port(auth_config: Path) -> int:
    for line in auth_config.read_text().splitlines():
        if line.startswith("listener "):
            return int(line.split()[1])
    raise ValueError(f"{auth_config} opens no listener")


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
