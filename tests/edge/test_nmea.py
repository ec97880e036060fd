"""The NMEA 0183 parser: known sentences with hand-computed values, bad ones, and how sentences make epochs."""

from datetime import UTC, date, datetime, time

import pytest

from vigil.edge.nmea import (
    KNOT_MPS,
    BadSentence,
    ChecksumMismatch,
    Epoch,
    EpochAssembler,
    Gga,
    MalformedSentence,
    Rmc,
    checksum,
    parse_sentence,
)

CLASSIC_RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
CLASSIC_GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"


def test_checksum_is_the_xor_of_the_body() -> None:
    assert checksum("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W") == 0x6A


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            CLASSIC_RMC,
            # 48° 07.038' N = 48 + 7.038/60; 011° 31.000' E = 11 + 31/60.
            Rmc(time(12, 35, 19, tzinfo=UTC), date(1994, 3, 23), True, 48.1173, 11 + 31 / 60, 22.4, 84.4),
            id="rmc-north-east",
        ),
        pytest.param(
            "$GNRMC,181530.50,A,3436.2238,S,05822.8942,W,0.52,271.3,070125,,,A*76",
            # Buenos Aires, the Obelisco: 34° 36.2238' S, 058° 22.8942' W; half a second past 18:15:30.
            Rmc(time(18, 15, 30, 500_000, tzinfo=UTC), date(2025, 1, 7), True, -34.60373, -58.38157, 0.52, 271.3),
            id="rmc-south-west-fractional-seconds",
        ),
        pytest.param(
            "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6a",
            Rmc(time(12, 35, 19, tzinfo=UTC), date(1994, 3, 23), True, 48.1173, 11 + 31 / 60, 22.4, 84.4),
            id="rmc-lower-case-checksum",
        ),
        pytest.param(
            "$GPRMC,,V,,,,,,,,,,N*53",
            Rmc(None, None, False, None, None, None, None),
            id="rmc-no-fix-empty-fields",
        ),
        pytest.param(
            "$GPRMC,235959.00,A,3351.4086,S,15112.9084,E,0.0,,311299,,,N*6F",
            # Status A but mode indicator N (NMEA 2.3): not a fix. Sydney Opera House; 1999 from "99".
            Rmc(time(23, 59, 59, tzinfo=UTC), date(1999, 12, 31), False, -33.85681, 151.21514, 0.0, None),
            id="rmc-mode-not-valid",
        ),
        pytest.param(
            CLASSIC_GGA,
            Gga(time(12, 35, 19, tzinfo=UTC), 1, 48.1173, 11 + 31 / 60, 0.9),
            id="gga-north-east",
        ),
        pytest.param(
            "$GNGGA,081500.00,3351.4086,S,15112.9084,E,2,12,1.3,4.2,M,22.1,M,3.0,0136*42",
            Gga(time(8, 15, tzinfo=UTC), 2, -33.85681, 151.21514, 1.3),
            id="gga-south-east-dgps",
        ),
        pytest.param(
            "$GPGGA,181530.50,3436.2238,S,05822.8942,W,4,14,0.6,25.0,M,14.2,M,1.0,0001*73",
            Gga(time(18, 15, 30, 500_000, tzinfo=UTC), 4, -34.60373, -58.38157, 0.6),
            id="gga-south-west-rtk",
        ),
        pytest.param("$GPGGA,,,,,,0,00,99.99,,,,,,*48", Gga(None, 0, None, None, 99.99), id="gga-no-fix-empty"),
        pytest.param("$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39", None, id="other-type"),
        pytest.param("$PGRME,15.0,M,45.0,M,25.0,M*1C", None, id="proprietary"),
    ],
)
def test_known_sentences(line: str, expected: Rmc | Gga | None) -> None:
    parsed = parse_sentence(line)
    if expected is None or parsed is None:
        assert parsed == expected
        return
    assert type(parsed) is type(expected)
    for field in ("lat", "lon"):
        assert getattr(parsed, field) == pytest.approx(getattr(expected, field), abs=1e-9), field
    assert parsed == type(expected)(**{**vars(expected), "lat": parsed.lat, "lon": parsed.lon})


@pytest.mark.parametrize(
    ("line", "error", "match"),
    [
        (CLASSIC_RMC[:-2] + "6B", ChecksumMismatch, "says 6B, its characters give 6A"),
        (CLASSIC_GGA.replace("545.4", "545.5"), ChecksumMismatch, "says 47"),
        ("$GPRMC,123519,A,4807.038,N,011", MalformedSentence, "truncated"),
        (CLASSIC_RMC[:-1], MalformedSentence, "truncated"),
        (CLASSIC_RMC[1:], MalformedSentence, "starts with '\\$'"),
        ("", MalformedSentence, "starts with"),
        ("$GPRMC,123519,A,4807.038,N*57", MalformedSentence, "at least 12 fields; this one has 5"),
        ("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4*7E", MalformedSentence, "15 fields; this one has 10"),
        (
            "$GPRMC,123519,A,,,01131.000,E,022.4,084.4,230394,003.1,W*3A",
            MalformedSentence,
            "status A \\(valid\\) needs a time, a latitude",
        ),
        ("$GPRMC,123519,A,4861.000,N,01131.000,E,022.4,084.4,230394,003.1,W*61", MalformedSentence, "minutes"),
        ("$GPRMC,123519,A,9100.000,N,01131.000,E,022.4,084.4,230394,003.1,W*62", MalformedSentence, "at most 90"),
        ("$GPRMC,123519,A,4807.038,X,01131.000,E,022.4,084.4,230394,003.1,W*7C", MalformedSentence, "N or S"),
        ("$GPRMC,123519,A,4807.038,N,01131.000,E,-1.0,084.4,230394,003.1,W*42", MalformedSentence, "speed"),
        ("$GPRMC,120000.0,A,0000.0000,N,00000.0000,E,nan,90.0,010124,,,A*1D", MalformedSentence, "speed"),
        ("$GPRMC,126019,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A", MalformedSentence, "minute"),
        ("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,310294,003.1,W*68", MalformedSentence, "day"),
        ("$GPRMC,123519,Q,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*7A", MalformedSentence, "A \\(valid\\)"),
        ("$GPGGA,123519,4807.038,N,01131.000,E,X,08,0.9,545.4,M,46.9,M,,*2E", MalformedSentence, "quality"),
    ],
)
def test_bad_sentences_are_refused(line: str, error: type[BadSentence], match: str) -> None:
    with pytest.raises(error, match=match) as caught:
        parse_sentence(line)
    assert caught.value.sentence == line.strip()


def _fix_at(hms: str) -> datetime:
    return datetime.strptime(f"2024-05-14 {hms}", "%Y-%m-%d %H%M%S").replace(tzinfo=UTC)


def _feed(lines: list[str]) -> tuple[list[Epoch], int]:
    assembler = EpochAssembler()
    epochs = [epoch for line in lines if (epoch := assembler.feed(line)) is not None]
    last = assembler.finish()
    return [*epochs, *([last] if last is not None else [])], assembler.rejected


PATROL_START = [
    "# a comment, as in gpsd's logs",
    "$GPRMC,093010.00,V,,,,,,,140524,,,N*70",
    "$GPGGA,093010.00,,,,,0,00,99.9,,M,,M,,*54",
    "",
    "$GPRMC,093020.00,A,5130.4380,N,00007.6560,W,2.72,328.1,140524,,,A*77",
    "$GPGGA,093020.00,5130.4380,N,00007.6560,W,1,08,0.9,21.0,M,45.5,M,,*4A",
    "$GPRMC,093030.00,A,5130.4444,N,00007.6624,W,2.72,328.1,140524,,,A*7B",  # corrupted: the checksum is 7A
    "$GPGGA,093030.00,5130.4444,N,00007.6624,W,1,09,1.1,21.1,M,45.5,M,,*4E",
    "$GPRMC,093040.00,A,5130.4508,N,00007.6688,W,2.72,328.1,14",  # cut off
    "$GPGGA,093040.00,5130.4508,N,00007.6688,W,2,10,1.0,21.2,M,45.5,M,,*4F",
]


def test_sentences_make_one_epoch_per_time() -> None:
    epochs, rejected = _feed(PATROL_START)
    assert rejected == 2
    assert [epoch.at for epoch in epochs] == [
        _fix_at("093010"),
        _fix_at("093020"),
        _fix_at("093030"),
        _fix_at("093040"),
    ]
    no_fix, both, gga_only, dgps = epochs
    assert no_fix == Epoch(at=_fix_at("093010"), position=None)
    # 51° 30.4380' N, 000° 07.6560' W; 2.72 kn × 1852/3600; HDOP 0.9 × 15 m.
    assert both.position == pytest.approx((51.5073, -0.1276))
    assert both.speed_mps == pytest.approx(1.3992889)
    assert both.heading_deg == 328.1
    assert both.accuracy_m == pytest.approx(13.5)
    # Its RMC was corrupted: the GGA places it, but speed and course are unknown; the date carries on.
    assert gga_only == Epoch(
        at=_fix_at("093030"), position=pytest.approx((51.50740667, -0.12770667)), accuracy_m=pytest.approx(16.5)
    )
    assert dgps.accuracy_m == pytest.approx(3.75)  # quality 2 (differential): HDOP 1.0 × 3.75 m


def test_rmc_alone_has_no_accuracy_and_wraps_course() -> None:
    (epoch,), rejected = _feed(["$GPRMC,120000.0,A,0000.0000,N,00000.0000,E,10.0,360.0,010124,,,A*5F"])
    assert rejected == 0
    assert epoch == Epoch(
        at=datetime(2024, 1, 1, 12, tzinfo=UTC),
        position=(0.0, 0.0),
        accuracy_m=None,
        heading_deg=0.0,
        speed_mps=pytest.approx(10 * KNOT_MPS),
    )


@pytest.mark.parametrize(
    ("lines", "dates"),
    [
        pytest.param(
            [
                "$GPGGA,235959.00,5130.5226,N,00007.5960,W,1,09,1.0,21.1,M,45.5,M,,*48",
                "$GPRMC,000000.00,A,5130.5226,N,00007.5960,W,0.00,,150524,,,A*5C",
                "$GPGGA,000000.00,5130.5226,N,00007.5960,W,1,09,1.0,21.1,M,45.5,M,,*49",
                "$GPGGA,000001.00,5130.5226,N,00007.5960,W,1,09,1.0,21.1,M,45.5,M,,*48",
            ],
            ["today", date(2024, 5, 15), date(2024, 5, 15)],
            id="rmc-dates-later-epochs",
        ),
        pytest.param(
            [
                "$GPGGA,235959.00,5130.5226,N,00007.5960,W,1,09,1.0,21.1,M,45.5,M,,*48",
                "$GPGGA,000001.00,5130.5226,N,00007.5960,W,1,09,1.0,21.1,M,45.5,M,,*48",
            ],
            ["today", "tomorrow"],
            id="gga-only-crosses-midnight",
        ),
    ],
)
def test_dates(lines: list[str], dates: list[date | str]) -> None:
    today = datetime.now(UTC).date()
    named = {"today": today, "tomorrow": date.fromordinal(today.toordinal() + 1)}
    epochs, _ = _feed(lines)
    assert [epoch.at.date() for epoch in epochs] == [named[d] if isinstance(d, str) else d for d in dates]
