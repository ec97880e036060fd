"""Checking a Mosquitto $7$ hash against a password, as the broker does at login."""

import base64

from vigil.command.broker.passwords import mosquitto_hash


def verifies(password_hash: str, password: str) -> bool:
    iterations, salt, _ = password_hash.removeprefix("$7$").split("$")
    return mosquitto_hash(password, salt=base64.b64decode(salt), iterations=int(iterations)) == password_hash
