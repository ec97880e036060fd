"""NMEA 0183: the RMC and GGA sentences a GPS receiver writes, and the epochs (fixes) they make together.

:class:`vigil.edge.nmea_replay.NmeaFileSource` replays a log with this parser. A sentence is ``$`` + talker and type
(``GPRMC``, ``GNGGA`` …) + comma-separated fields + ``*`` + a two-digit hexadecimal checksum, the XOR of every
character between ``$`` and ``*``. Every sentence's checksum is verified.

Hierarchy::

    VigilError
    └── EdgeError
        └── NmeaError
            └── BadSentence         one sentence cannot be used; a replay skips and counts it
                ├── ChecksumMismatch    the checksum does not match the characters (corrupted in transit)
                └── MalformedSentence   truncated, or a field that is not what the sentence type says
"""

import logging
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from functools import reduce

from vigil.edge.errors import EdgeError

_log = logging.getLogger(__name__)

KNOT_MPS = 1852 / 3600
"""One knot (nautical mile per hour) in metres per second."""

UERE_M = 15.0
"""User equivalent range error at 95 % confidence, metres, for a plain GPS fix (gpsd's ``H_UERE_NO_DGPS``)."""

CORRECTED_UERE_M = 3.75
"""The same for differential (GGA quality 2) and RTK (4, 5) fixes (gpsd's ``H_UERE_WITH_DGPS``)."""


class NmeaError(EdgeError):
    """Base class of every NMEA error."""


class BadSentence(NmeaError):
    """One sentence cannot be used.

    Attributes:
        sentence: the sentence as read, without its line ending.
    """

    def __init__(self, sentence: str, problem: str) -> None:
        super().__init__(f"{problem}: {sentence[:100]!r}")
        self.sentence = sentence


class ChecksumMismatch(BadSentence):
    """The checksum does not match the sentence: it was corrupted on the way.

    Attributes:
        expected: the checksum the sentence carries.
        actual: the XOR of its characters.
    """

    def __init__(self, sentence: str, *, expected: int, actual: int) -> None:
        super().__init__(
            sentence, f"checksum mismatch: the sentence says {expected:02X}, its characters give {actual:02X}"
        )
        self.expected = expected
        self.actual = actual


class MalformedSentence(BadSentence):
    """The sentence is truncated, or a field is not what its sentence type says."""


@dataclass(frozen=True)
class Rmc:
    """A recommended minimum sentence (``xxRMC``): time, date, status, position, speed and course.

    Attributes:
        time: UTC time of day; None when the receiver has none yet.
        date: UTC date; None when the receiver has none yet.
        valid: status ``A`` (and mode indicator, where present, not ``N``): the position is a fix.
        lat: latitude, degrees north; None when empty.
        lon: longitude, degrees east; None when empty.
        speed_knots: speed over ground, knots; None when empty.
        track_deg: course over ground, degrees from true north; None when empty.
    """

    time: time_of_day | None
    date: date | None
    valid: bool
    lat: float | None
    lon: float | None
    speed_knots: float | None
    track_deg: float | None


@dataclass(frozen=True)
class Gga:
    """A fix data sentence (``xxGGA``): time, position, fix quality and horizontal dilution of precision.

    Attributes:
        time: UTC time of day; None when the receiver has none yet.
        quality: 0 no fix, 1 GPS, 2 differential, 4 RTK fixed, 5 RTK float, 6 estimated …
        lat: latitude, degrees north; None when empty.
        lon: longitude, degrees east; None when empty.
        hdop: horizontal dilution of precision; None when empty.
    """

    time: time_of_day | None
    quality: int
    lat: float | None
    lon: float | None
    hdop: float | None


def checksum(body: str) -> int:
    """The NMEA checksum of the characters between ``$`` and ``*``."""
    return reduce(lambda total, char: total ^ ord(char), body, 0)


def parse_sentence(line: str) -> Rmc | Gga | None:
    """Parse one sentence.

    Returns:
        The RMC or GGA sentence; None for a well-formed sentence of another type (GSA, GSV, VTG …).

    Raises:
        ChecksumMismatch: the checksum does not match.
        MalformedSentence: no ``$`` or ``*hh`` (truncated), too few fields, or a field that cannot be read.
    """
    text = line.strip()
    if not text.startswith("$"):
        raise MalformedSentence(text, "an NMEA sentence starts with '$'")
    body, star, given = text[1:].partition("*")
    if not star or len(given) != 2 or not all(c in "0123456789abcdefABCDEF" for c in given):
        raise MalformedSentence(text, "no '*hh' checksum at the end; the sentence is probably truncated")
    if checksum(body) != int(given, 16):
        raise ChecksumMismatch(text, expected=int(given, 16), actual=checksum(body))
    fields = body.split(",")
    kind = "" if fields[0].startswith("P") else fields[0][2:]  # P…: proprietary, no talker id
    try:
        if kind == "RMC":
            return _rmc(fields)
        if kind == "GGA":
            return _gga(fields)
    except ValueError as exc:
        raise MalformedSentence(text, str(exc)) from None
    return None


def _rmc(fields: list[str]) -> Rmc:
    if len(fields) < 12:
        raise ValueError(f"RMC has at least 12 fields; this one has {len(fields)}")
    mode = fields[12] if len(fields) > 12 else ""
    valid = fields[2] == "A" and mode != "N"
    if fields[2] not in ("A", "V"):
        raise ValueError(f"RMC status must be A (valid) or V (void); got {fields[2]!r}")
    sentence = Rmc(
        time=_time(fields[1]),
        date=_date(fields[9]),
        valid=valid,
        lat=_angle(fields[3], fields[4], limit=90, hemispheres="NS"),
        lon=_angle(fields[5], fields[6], limit=180, hemispheres="EW"),
        speed_knots=_non_negative("speed", fields[7]),
        track_deg=_non_negative("course", fields[8]),
    )
    if valid and (sentence.time is None or sentence.lat is None or sentence.lon is None):
        raise ValueError("RMC status A (valid) needs a time, a latitude and a longitude")
    return sentence


def _gga(fields: list[str]) -> Gga:
    if len(fields) < 15:
        raise ValueError(f"GGA has 15 fields; this one has {len(fields)}")
    if not fields[6].isdigit():
        raise ValueError(f"GGA fix quality must be a digit; got {fields[6]!r}")
    sentence = Gga(
        time=_time(fields[1]),
        quality=int(fields[6]),
        lat=_angle(fields[2], fields[3], limit=90, hemispheres="NS"),
        lon=_angle(fields[4], fields[5], limit=180, hemispheres="EW"),
        hdop=_non_negative("HDOP", fields[8]),
    )
    if sentence.quality > 0 and (sentence.time is None or sentence.lat is None or sentence.lon is None):
        raise ValueError(f"GGA fix quality {sentence.quality} needs a time, a latitude and a longitude")
    return sentence


def _time(field: str) -> time_of_day | None:
    """``hhmmss`` or ``hhmmss.sss``, UTC."""
    if not field:
        return None
    whole, _, fraction = field.partition(".")
    if len(whole) != 6 or not whole.isdigit() or not (fraction.isdigit() or fraction == ""):
        raise ValueError(f"time must be hhmmss[.sss]; got {field!r}")
    micros = round(float(f"0.{fraction or 0}") * 1_000_000)
    return time_of_day(int(whole[:2]), int(whole[2:4]), int(whole[4:]), min(micros, 999_999), tzinfo=UTC)


def _date(field: str) -> date | None:
    """``ddmmyy``; years 80–99 are 1980–1999 (GPS began in 1980), 00–79 are 2000–2079."""
    if not field:
        return None
    if len(field) != 6 or not field.isdigit():
        raise ValueError(f"date must be ddmmyy; got {field!r}")
    year = int(field[4:])
    return date(year + (1900 if year >= 80 else 2000), int(field[2:4]), int(field[:2]))


def _angle(value: str, hemisphere: str, *, limit: int, hemispheres: str) -> float | None:
    """``dddmm.mmmm`` and its hemisphere letter, as signed degrees (south and west negative)."""
    if not value and not hemisphere:
        return None
    whole, _, fraction = value.partition(".")
    if len(whole) < 3 or not whole.isdigit() or not (fraction.isdigit() or fraction == "") or hemisphere == "":
        raise ValueError(f"a coordinate must be (d)ddmm.mmmm with N, S, E or W; got {value!r},{hemisphere!r}")
    if hemisphere not in hemispheres:
        raise ValueError(f"hemisphere must be {' or '.join(hemispheres)}; got {hemisphere!r}")
    minutes = float(f"{whole[-2:]}.{fraction or 0}")
    degrees = int(whole[:-2]) + minutes / 60
    if minutes >= 60 or degrees > limit:
        raise ValueError(f"coordinate {value} {hemisphere} is off the globe (at most {limit}°, minutes below 60)")
    return -degrees if hemisphere in "SW" else degrees


def _non_negative(name: str, field: str) -> float | None:
    if not field:
        return None
    number = float(field)  # ValueError names the field's text
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be a number of at least 0; got {field!r}")
    return number


@dataclass(frozen=True)
class Epoch:
    """One measurement cycle of the receiver (the sentences that share one time), in SI units.

    Attributes:
        at: the cycle's time, UTC.
        position: (lat, lon), degrees north and east (WGS 84); None when the receiver had no fix.
        accuracy_m: HDOP × UERE, metres (about 95 %); None without a fix or an HDOP.
        heading_deg: course over ground, degrees from true north, 0 to below 360; None unless RMC gave one.
        speed_mps: speed over ground, metres per second; None unless RMC gave one.
    """

    at: datetime
    position: tuple[float, float] | None
    accuracy_m: float | None = None
    heading_deg: float | None = None
    speed_mps: float | None = None


class EpochAssembler:
    """Groups sentences into epochs by their time.

    The position comes from GGA when it has one (else RMC), speed and course from RMC. Its accuracy is
    ``HDOP × UERE``: :data:`UERE_M` (15 m) for a plain GPS fix and :data:`CORRECTED_UERE_M` (3.75 m) for a
    differential or RTK one, the 95 % figures gpsd uses. That is an estimate from the satellites' geometry, not a
    measurement; without HDOP (an RMC-only log) the accuracy is unknown. An epoch's date comes from its RMC; an epoch
    without one takes the previous epoch's date (today's, UTC, at the start of a GGA-only log), advancing a day
    when the time of day goes back (midnight).

    Attributes:
        rejected: how many bad sentences have been skipped so far.
    """

    def __init__(self) -> None:
        """Start with no sentences."""
        self.rejected = 0
        self._time: time_of_day | None = None
        self._rmc: Rmc | None = None
        self._gga: Gga | None = None
        self._date: date | None = None
        self._previous: datetime | None = None

    def feed(self, line: str) -> Epoch | None:
        """Take one line of a log; returns the epoch it completed, if it starts a new one.

        Empty lines and lines starting with ``#`` (gpsd's log comments) are skipped; a bad sentence is skipped and
        counted in :attr:`rejected`.
        """
        text = line.strip()
        if not text or text.startswith("#"):
            return None
        try:
            sentence = parse_sentence(text)
        except BadSentence as exc:
            self.rejected += 1
            _log.debug("nmea.sentence_rejected", extra={"reason": str(exc)})
            return None
        if sentence is None or sentence.time is None:
            return None
        completed = self.finish() if sentence.time != self._time else None
        self._time = sentence.time
        if isinstance(sentence, Rmc):
            self._rmc = sentence
        else:
            self._gga = sentence
        return completed

    def finish(self) -> Epoch | None:
        """Complete the epoch in progress (at the end of the log); None when there is none."""
        if self._time is None:
            return None
        when, rmc, gga = self._time, self._rmc, self._gga
        self._time, self._rmc, self._gga = None, None, None
        if rmc is not None and rmc.date is not None:
            day = rmc.date
        else:
            day = self._date or datetime.now(UTC).date()
            if self._previous is not None and datetime.combine(day, when) < self._previous:
                day += timedelta(days=1)
        self._date = day
        at = self._previous = datetime.combine(day, when)
        return _epoch(at, rmc, gga)


def _epoch(at: datetime, rmc: Rmc | None, gga: Gga | None) -> Epoch:
    moving = rmc if rmc is not None and rmc.valid else None
    placed = gga if gga is not None and gga.quality > 0 else moving
    if placed is None or placed.lat is None or placed.lon is None:
        return Epoch(at=at, position=None)
    accuracy = None
    if gga is not None and gga.quality > 0 and gga.hdop is not None:
        accuracy = gga.hdop * (CORRECTED_UERE_M if gga.quality in (2, 4, 5) else UERE_M)
    return Epoch(
        at=at,
        position=(placed.lat, placed.lon),
        accuracy_m=accuracy,
        heading_deg=None if moving is None or moving.track_deg is None else moving.track_deg % 360.0,
        speed_mps=None if moving is None or moving.speed_knots is None else moving.speed_knots * KNOT_MPS,
    )
