"""Passwords: argon2id hashes (argon2-cffi's ``PasswordHasher`` defaults), rehashed when those change.

A password is never stored or logged, only its hash. A new password must be long enough and hard to guess:
zxcvbn (Dropbox's estimator, with its lists of common passwords, names and words shipped in the package) scores
it from 0 to 4, and one below ``min_password_score`` is refused with zxcvbn's own advice. Checking the password
of a user who does not exist takes as long as checking a wrong one (:meth:`Passwords.check_unknown`), so the time
of an answer does not tell an attacker which user names exist.
"""

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from vigil.command.errors import InvalidAccount

MAX_PASSWORD_LENGTH = 1024
"""Longest password accepted, characters: long enough for any passphrase, short enough to hash cheaply."""

_JUDGED_LENGTH = 72
"""zxcvbn judges this many leading characters (its own limit: its matching grows fast with the length)."""


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

    def __init__(self, *, min_length: int, min_score: int = 3) -> None:
        """Prepare the hasher.

        Args:
            min_length: the shortest password :meth:`hash` accepts, characters.
            min_score: the weakest password :meth:`hash` accepts on zxcvbn's scale of 0 to 4.
        """
        self._hasher = PasswordHasher()
        self._min_length = min_length
        self._min_score = min_score
        # Checked against when the user name is unknown, so that the answer takes as long as for a wrong password.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str, *, personal: Sequence[str] = ()) -> str:
        """The argon2id hash of an acceptable password.

        Args:
            password: the new password.
            personal: words a guesser would try first for this person (their user name, display name).

        Raises:
            InvalidAccount: the password is too short, too long, all blanks, or easy to guess.
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
        self._check_strength(password, personal)
        return self._hasher.hash(password)

    def _check_strength(self, password: str, personal: Sequence[str]) -> None:
        # Each name whole and word by word: "Olivia Operator" makes "olivia" and "operator" weak parts too.
        words = sorted({word for name in personal for word in (name, *re.split(r"[\W_]+", name)) if len(word) >= 3})
        estimate = zxcvbn(password[:_JUDGED_LENGTH], user_inputs=words)
        score = int(estimate["score"])
        if score >= self._min_score:
            return
        feedback = estimate["feedback"]
        advice = " ".join(part for part in (feedback["warning"], *feedback["suggestions"]) if part)
        guesses = float(estimate["guesses"])
        raise InvalidAccount(
            f"the password is too easy to guess (about {guesses:,.0f} guesses, strength {score} of 4; at least "
            f"{self._min_score} is needed). {advice or 'Add another word or two.'} A passphrase of four or more "
            "unrelated words is strong and easy to remember; avoid names, dates, keyboard patterns and common "
            "passwords with a digit or symbol added",
            field="password",
        )

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
