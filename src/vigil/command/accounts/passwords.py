"""Passwords: argon2id hashes (argon2-cffi's ``PasswordHasher`` defaults), rehashed when those change.

A password is never stored or logged, only its hash. Checking the password of a user who does not exist takes
as long as checking a wrong one (:meth:`Passwords.check_unknown`), so the time of an answer does not tell an
attacker which user names exist.
"""

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vigil.command.errors import InvalidAccount

MAX_PASSWORD_LENGTH = 1024
"""Longest password accepted, characters: long enough for any passphrase, short enough to hash cheaply."""


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of checking a password.

    Attributes:
        matches: whether it is the user's password.
        new_hash: when it matches but its hash was made with other parameters than today's, the hash to store
            instead; None otherwise.
    """

    matches: bool
    new_hash: str | None = None


class Passwords:
    """Hashes and checks passwords; built once per process (making its dummy hash costs one hash)."""

    def __init__(self, *, min_length: int) -> None:
        """Prepare the hasher.

        Args:
            min_length: the shortest password :meth:`hash` accepts, characters.
        """
        self._hasher = PasswordHasher()
        self._min_length = min_length
        # Checked against when the user name is unknown, so that the answer takes as long as for a wrong password.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """The argon2id hash of an acceptable password.

        Raises:
            InvalidAccount: the password is too short, too long, or all blanks.
        """
        if len(password) < self._min_length or not password.strip():
            raise InvalidAccount(
                f"the password has {len(password)} characters; use at least {self._min_length} (a passphrase of "
                "several words is easiest to remember)",
                field="password",
            )
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidAccount(
                f"the password has {len(password):,} characters; the limit is {MAX_PASSWORD_LENGTH:,}",
                field="password",
            )
        return self._hasher.hash(password)

    def check(self, password: str, stored_hash: str) -> PasswordCheck:
        """Whether ``password`` matches ``stored_hash``, and a fresh hash when the parameters have changed."""
        if len(password) > MAX_PASSWORD_LENGTH:
            return PasswordCheck(matches=False)
        try:
            self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return PasswordCheck(matches=False)
        if self._hasher.check_needs_rehash(stored_hash):
            return PasswordCheck(matches=True, new_hash=self._hasher.hash(password))
        return PasswordCheck(matches=True)

    def check_unknown(self, password: str) -> None:
        """Spend the time of one check for a user who does not exist (the answer is always "no")."""
        self.check(password, self._dummy_hash)
