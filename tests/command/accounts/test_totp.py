"""Second-factor codes: valid one step either side of now, each step once, nothing else."""

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from vigil.command.accounts.totp import STEP_S, accepted_step, new_secret, provisioning_uri

NOW = datetime(2025, 6, 1, 12, 0, 10, tzinfo=UTC)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # fixed, so that every test run (and xdist worker) names the same cases
TOTP = pyotp.TOTP(SECRET)
STEP = TOTP.timecode(NOW)


@pytest.mark.parametrize(
    ("code", "last_step", "window", "accepted"),
    [
        (TOTP.at(NOW), None, 1, STEP),
        (TOTP.at(NOW - timedelta(seconds=STEP_S)), None, 1, STEP - 1),
        (TOTP.at(NOW + timedelta(seconds=STEP_S)), None, 1, STEP + 1),
        (TOTP.at(NOW - timedelta(seconds=2 * STEP_S)), None, 1, None),
        (TOTP.at(NOW - timedelta(seconds=STEP_S)), None, 0, None),
        (TOTP.at(NOW), STEP, 1, None),  # used already
        (TOTP.at(NOW - timedelta(seconds=STEP_S)), STEP, 1, None),  # older than the last one used
        (TOTP.at(NOW + timedelta(seconds=STEP_S)), STEP, 1, STEP + 1),
        (TOTP.at(NOW)[:3] + " " + TOTP.at(NOW)[3:], None, 1, STEP),  # typed with a space
        ("12345", None, 1, None),
        ("abcdef", None, 1, None),
        ("", None, 1, None),
    ],
)
def test_a_code_is_accepted_within_the_window_and_only_once(
    code: str, last_step: int | None, window: int, accepted: int | None
) -> None:
    assert accepted_step(secret=SECRET, code=code, now=NOW, window_steps=window, last_step=last_step) == accepted


def test_the_provisioning_uri_names_the_user_and_the_issuer() -> None:
    uri = pyotp.parse_uri(provisioning_uri(secret=SECRET, username="sup-1", issuer="Vigil Met"))
    assert (uri.name, uri.issuer, uri.secret, uri.digits, uri.interval) == ("sup-1", "Vigil Met", SECRET, 6, 30)
    assert len(SECRET) == 32
    assert new_secret() != SECRET
