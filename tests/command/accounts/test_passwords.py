"""Passwords: argon2id with the library's defaults, a length and strength policy, a rehash when parameters change."""

import secrets

import pytest
from argon2 import PasswordHasher

from vigil.command.accounts.passwords import MAX_PASSWORD_LENGTH, Passwords
from vigil.command.errors import InvalidAccount


def test_a_hash_checks_its_password_and_nothing_else(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    right, wrong = passwords.check("correct horse battery staple", stored), passwords.check("x" * 20, stored)
    assert (right.matches, wrong.matches) == (True, False)
    assert passwords.check("correct horse battery staple", stored).new_hash is None
    assert passwords.check("anything at all here", "not a hash").matches is False


def test_a_hash_with_old_parameters_gets_a_new_one_when_it_matches(passwords: Passwords) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse battery staple")
    check = passwords.check("correct horse battery staple", old)
    assert check.matches
    assert check.new_hash is not None
    assert passwords.check("correct horse battery staple", check.new_hash).new_hash is None


@pytest.mark.parametrize(
    ("password", "match"),
    [("short", "has 5 characters; use at least 12"), (" " * 20, "use at least"), ("x" * 1025, "limit is 1,024")],
)
def test_passwords_too_short_blank_or_too_long_are_refused(passwords: Passwords, password: str, match: str) -> None:
    with pytest.raises(InvalidAccount, match=match):
        passwords.hash(password)
    assert MAX_PASSWORD_LENGTH == 1024


@pytest.mark.parametrize(
    ("password", "personal", "advice"),
    [
        ("password1234", (), "This is a very common password."),
        ("qwertyuiopasdf", (), "similar to a commonly used password"),
        ("aaaaaaaaaaaaaaaa", (), 'Repeats like "aaa" are easy to guess.'),
        ("olivia-operator!", ("olivia-operator", "Olivia Operator"), "Add another word or two."),
    ],
)
def test_passwords_easy_to_guess_are_refused_with_advice(
    passwords: Passwords, password: str, personal: tuple[str, ...], advice: str
) -> None:
    with pytest.raises(InvalidAccount, match="too easy to guess") as refused:
        passwords.hash(password, personal=personal)
    assert advice in str(refused.value)
    assert "A passphrase of four or more unrelated words" in str(refused.value)
    assert refused.value.field == "password"


def test_strong_passwords_pass_the_personal_words_and_the_demos_random_ones_too(passwords: Passwords) -> None:
    assert passwords.hash("olivia-operator!", personal=("someone-else",)).startswith("$argon2id$")
    assert passwords.hash("correct horse battery op-1", personal=("op-1", "OP-1")).startswith("$argon2id$")
    for _ in range(5):  # what vigil demo and vigil bench give their users
        passwords.hash(secrets.token_urlsafe(12))
