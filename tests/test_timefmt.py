from arbitrage_cli.timefmt import (epoch_from_keepa_minutes, iso_utc, keepa_minutes_from_epoch,
                                   keepa_minutes_to_iso, parse_iso)


def test_keepa_time_vectors_from_the_reference():
    assert keepa_minutes_to_iso(7_924_816) == "2026-01-25T08:16:00.000Z"
    assert keepa_minutes_to_iso(8_075_762) == "2026-05-10T04:02:00.000Z"
    assert iso_utc(1_778_386_768_884 / 1000) == "2026-05-10T04:19:28.884Z"
    assert keepa_minutes_from_epoch(epoch_from_keepa_minutes(8_075_762)) == 8_075_762


def test_iso_is_fixed_width_and_round_trips():
    a, b = iso_utc(5.5), iso_utc(1_795_132_800)
    assert len(a) == len(b) == 24 and a < b
    assert parse_iso(b) == 1_795_132_800
    assert parse_iso("2026-11-20T00:00:00") == 1_795_132_800
