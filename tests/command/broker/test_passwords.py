"""Mosquitto's $7$ password hashes, made in Python, equal the ones `mosquitto_passwd` makes."""

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from vigil.command.broker.passwords import mosquitto_hash, new_secret

MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")


@pytest.mark.skipif(MOSQUITTO_PASSWD is None, reason="mosquitto_passwd is not installed")
@pytest.mark.parametrize("password", ["cam-1.Zq3-hH8_x0", "naïve pass wörd", "x"])
def test_the_hash_is_the_one_mosquitto_passwd_makes_with_the_same_salt(tmp_path: Path, password: str) -> None:
    assert MOSQUITTO_PASSWD is not None
    password_file = tmp_path / "passwd"
    password_file.touch()
    subprocess.run([MOSQUITTO_PASSWD, "-b", str(password_file), "cam-1", password], check=True)
    theirs = password_file.read_text().strip().partition(":")[2]
    iterations, salt, _ = theirs.removeprefix("$7$").split("$")
    assert mosquitto_hash(password, salt=base64.b64decode(salt), iterations=int(iterations)) == theirs


def test_the_hash_has_mosquittos_layout_and_a_new_salt_each_time() -> None:
    first, second = mosquitto_hash("secret"), mosquitto_hash("secret")
    layout = re.compile(r"^\$7\$101\$([A-Za-z0-9+/=]{16})\$([A-Za-z0-9+/=]{88})$")
    assert [bool(layout.match(h)) for h in (first, second)] == [True, True]
    assert first != second
    assert len(base64.b64decode(first.split("$")[4])) == 64


@pytest.mark.parametrize(
    ("salt", "iterations", "match"),
    [(b"", 101, "the salt is empty"), (b"salt", 0, "at least 1, got 0")],
)
def test_a_hash_needs_a_salt_and_iterations(salt: bytes, iterations: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mosquitto_hash("secret", salt=salt, iterations=iterations)


def test_a_new_secret_is_32_random_bytes_url_safe() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", s) for s in secrets)
