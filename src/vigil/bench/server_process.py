"""``vigil serve`` in a process of its own for a benchmark, and signing in to it as a user.

A benchmark drives the command centre from outside, as devices and operators do: over MQTT and HTTP.
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyotp
from pydantic import BaseModel, Field

from vigil.bench.cpu import pin_command
from vigil.bench.mosquitto import free_port
from vigil.errors import VigilError


class BenchUser(BaseModel):
    """A user the benchmark signs in as."""

    username: str
    password: str
    totp_secret: str | None = Field(None, description="The second factor's base32 secret, when the role needs one.")


class ServerDidNotStart(VigilError):
    """``vigil serve`` exited, or did not answer within a minute; the message holds the end of its log."""


class SignInRefused(VigilError):
    """The benchmark's user could not sign in."""


@dataclass(frozen=True)
class RunningServer:
    """A ``vigil serve`` process that answers.

    Attributes:
        base: its API's base URL (``http://127.0.0.1:<port>/api/v1``).
        pid: its process id.
    """

    base: str
    pid: int


@contextmanager
def server_process(
    *,
    database_url: str,
    bus_url: str,
    directory: Path,
    name: str = "server",
    key_wrap_file: Path | None = None,
    cpus: frozenset[int] | None = None,
) -> Iterator[RunningServer]:
    """``vigil serve`` on the database and bus, stopped at the end; yields it once its API answers.

    Args:
        database_url: the database.
        bus_url: the broker, ``mqtt://host:port``.
        directory: for its log (``<name>.log``) and data directory.
        name: the process's name, and its broker client id (servers sharing the ingestion need one each).
        key_wrap_file: the key-wrapping key servers sharing a database share (second factors are sealed under it);
            None: the server's own, in its data directory.
        cpus: the CPUs it may run on; it pins itself before anything else, so every thread it starts inherits
            them. None: not pinned.

    Raises:
        ServerDidNotStart: the server exited or did not answer within a minute.
    """
    port = free_port()
    log = directory / f"{name}.log"
    start = "from vigil.cli.app import main; main()"
    if cpus is not None:
        start = f"{pin_command(cpus)}; {start}"
    command = [sys.executable, "-c", start, "serve"]
    command += ["--db", database_url, "--bus", bus_url, "--bus-client-id", name]
    command += ["--port", str(port), "--data-dir", str(directory / f"{name}-data")]
    with log.open("ab") as out:
        environment = dict(os.environ)
        if key_wrap_file is not None:
            environment["VIGIL_WATCHLISTS__KEY_WRAP_FILE"] = str(key_wrap_file)
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/openapi.json", timeout=2):  # the loopback URL built above
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ServerDidNotStart(f"vigil serve did not start: {log.read_text()[-3000:]}") from None
                time.sleep(0.1)
        yield RunningServer(base=base, pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def sign_in(base: str, user: BenchUser) -> str:
    """Sign in as ``user`` (with a fresh second-factor code when it has one); returns the session's bearer token.

    Raises:
        SignInRefused: the server refused the sign-in.
    """
    body = {"username": user.username, "password": user.password, "delivery": "bearer"}
    if user.totp_secret is not None:
        body["code"] = pyotp.TOTP(user.totp_secret).now()
    request = urllib.request.Request(
        f"{base}/auth/login", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # the loopback URL the caller built
            token: str = json.loads(response.read())["token"]
    except urllib.error.HTTPError as exc:
        raise SignInRefused(f"the benchmark's user {user.username} could not sign in: {exc.read()[:300]!r}") from exc
    return token
