"""The second factor: time-based one-time codes (TOTP, RFC 6238: six digits, 30-second steps, SHA-1), by pyotp.

Any authenticator app reads the provisioning URI (usually as a QR code). A code is accepted within
``totp_window_steps`` steps either side of the server's clock, and only once: the step of the last accepted code
is stored, and a code for that step or an earlier one is refused, so a code seen over a shoulder or replayed
from a captured request is useless.
"""

from datetime import datetime

import pyotp
from pyotp.utils import strings_equal

STEP_S = 30
"""The length of one step, seconds (RFC 6238's default, what every authenticator app uses)."""


def new_secret() -> str:
    """A new random base32 secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(*, secret: str, username: str, issuer: str) -> str:
    """The ``otpauth://totp/…`` URI an authenticator app enrols from."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def accepted_step(*, secret: str, code: str, now: datetime, window_steps: int, last_step: int | None) -> int | None:
    """The step a code belongs to, if it is valid now and newer than the last code accepted; else None.

    Args:
        secret: the user's base32 secret.
        code: what the user typed (spaces are ignored).
        now: the server's time (timezone-aware).
        window_steps: steps accepted either side of ``now``.
        last_step: the step of the last code accepted from this user (None: none yet).

    Returns:
        The step to store as the last one accepted, or None when the code is wrong, too old or used already.
    """
    code = code.replace(" ", "")
    if len(code) != pyotp.TOTP(secret).digits or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    # Newest first, and compare every candidate: the time taken does not depend on which step matched.
    matched = None
    for step in range(current + window_steps, current - window_steps - 1, -1):
        if strings_equal(code, totp.generate_otp(step)) and matched is None:
            matched = step
    if matched is None or (last_step is not None and matched <= last_step):
        return None
    return matched
