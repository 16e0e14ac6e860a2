"""Schedule rules without a database: RRULEs in the factory's wall-clock time, DST gaps refused,
DST overlaps resolved to the first occurrence and reported, the friendly form, bad input."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.clock import NonexistentTime, happens_twice, planned_moment, to_utc
from services.committees.schedule import (
    InvalidSchedule,
    InvalidTime,
    check_rrule,
    check_schedule,
    friendly_rrule,
    occurrences,
    parse_local,
)

HAITI = ZoneInfo("America/Port-au-Prince")  # DST: 2nd Sunday of March, 1st Sunday of November
AMMAN = ZoneInfo("Asia/Amman")  # UTC+3 all year since 2022
ZONES = [
    "Asia/Dhaka",
    "Asia/Phnom_Penh",
    "Africa/Addis_Ababa",
    "America/Port-au-Prince",
    "Asia/Jakarta",
    "Asia/Amman",
    "America/Managua",
    "Asia/Ho_Chi_Minh",
]


def test_monthly_first_tuesday_keeps_local_time_across_dst_in_haiti() -> None:
    rule = check_rrule("FREQ=MONTHLY;BYDAY=1TU", parse_local("2027-01-05T14:00"))
    found = occurrences(
        rule,
        HAITI,
        after_utc=datetime(2027, 1, 1, tzinfo=UTC),
        before_utc=datetime(2027, 12, 31, tzinfo=UTC),
    )
    assert [o.starts_at.astimezone(HAITI).strftime("%H:%M") for o in found] == ["14:00"] * 12
    march, april = found[2].starts_at, found[3].starts_at
    assert (march.hour, april.hour) == (19, 18)  # UTC-5 before the change, UTC-4 after
    assert found[0].key == "2027-01-05T14:00"


def test_amman_has_no_dst_now() -> None:
    rule = check_rrule("FREQ=MONTHLY;BYDAY=-1TH", parse_local("2027-01-01T10:00"))
    found = occurrences(
        rule,
        AMMAN,
        after_utc=datetime(2027, 1, 1, tzinfo=UTC),
        before_utc=datetime(2028, 1, 1, tzinfo=UTC),
    )
    assert len(found) == 12 and {o.starts_at.hour for o in found} == {7}


def test_nonexistent_local_time_is_refused_with_the_time() -> None:
    with pytest.raises(NonexistentTime) as caught:
        to_utc(parse_local("2027-03-14T02:30"), HAITI)
    assert "2027-03-14 02:30" in str(caught.value) and "does not exist" in str(caught.value)
    # A schedule that lands in the gap some month is refused when it is set.
    with pytest.raises(NonexistentTime):
        check_schedule("FREQ=MONTHLY;BYDAY=2SU", parse_local("2027-01-01T02:30"), HAITI)


def test_ambiguous_local_time_takes_the_first_and_is_reported() -> None:
    local = parse_local("2027-11-07T01:30")
    first, twice = to_utc(local, HAITI), happens_twice(local, HAITI)
    assert twice and first == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)  # still UTC-4 (EDT)
    _rule, ambiguous = check_schedule(
        "FREQ=MONTHLY;BYDAY=1SU", parse_local("2027-01-01T01:30"), HAITI
    )
    assert "2027-11-07T01:30" in ambiguous


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "FREQ=SOMETIMES",
        "FREQ=HOURLY",
        "FREQ=MINUTELY;INTERVAL=5",
        "FREQ=MONTHLY;BYDAY=9XX",
        "DTSTART:20270101T000000\nRRULE:FREQ=DAILY",
        "FREQ=DAILY;UNTIL=20000101T000000",  # never happens after the start
        "FREQ=WEEKLY;BYDAY=" + "MO," * 200,
    ],
)
def test_bad_rules_are_refused(rule: str) -> None:
    with pytest.raises(InvalidSchedule):
        check_schedule(rule, parse_local("2027-01-01T10:00"), AMMAN)


@pytest.mark.parametrize("value", ["", "tomorrow", "2027-02-30T10:00", "2027-01-01T25:00"])
def test_bad_local_times_are_refused(value: str) -> None:
    with pytest.raises(InvalidTime):
        parse_local(value)


def test_friendly_form() -> None:
    assert friendly_rrule(freq="monthly", weekday="TU", ordinal=1) == "FREQ=MONTHLY;BYDAY=1TU"
    assert friendly_rrule(freq="monthly", weekday="FR", ordinal=-1) == "FREQ=MONTHLY;BYDAY=-1FR"
    assert (
        friendly_rrule(freq="weekly", weekday="MO", ordinal=3, interval=2)
        == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"
    )
    for bad in [
        dict(freq="hourly", weekday="MO"),
        dict(freq="monthly", weekday="XX"),
        dict(freq="monthly", weekday="MO", ordinal=7),
        dict(freq="weekly", weekday="MO", interval=0),
    ]:
        with pytest.raises(InvalidSchedule):
            friendly_rrule(**bad)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    local=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2035, 12, 31)),
)
def test_to_utc_round_trips_or_refuses(zone: str, local: datetime) -> None:
    """Any local time either maps to an instant that shows that same wall-clock time, or is
    refused as non-existent; never silently shifted."""
    tz = ZoneInfo(zone)
    local = local.replace(second=0, microsecond=0)
    try:
        instant = to_utc(local, tz)
    except NonexistentTime:
        assert zone == "America/Port-au-Prince"  # the only zone here that still skips hours
        return
    assert instant.tzinfo is UTC
    assert instant.astimezone(tz).replace(tzinfo=None) == local


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    weekday=st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA"]),
    ordinal=st.sampled_from([1, 2, 3, 4, -1]),
    hour=st.integers(min_value=6, max_value=20),
    start=st.dates(min_value=datetime(2026, 1, 1).date(), max_value=datetime(2030, 1, 1).date()),
)
def test_monthly_occurrences_are_monthly_at_the_same_local_time(
    zone: str, weekday: str, ordinal: int, hour: int, start: object
) -> None:
    tz = ZoneInfo(zone)
    first = parse_local(f"{start}T{hour:02d}:00")
    rule = check_rrule(friendly_rrule(freq="monthly", weekday=weekday, ordinal=ordinal), first)
    begin = first.replace(tzinfo=tz).astimezone(UTC)
    found = occurrences(rule, tz, after_utc=begin, before_utc=begin + timedelta(days=366))
    assert 11 <= len(found) <= 13  # a year window may start just after one occurrence
    months = {(o.starts_at.astimezone(tz).year, o.starts_at.astimezone(tz).month) for o in found}
    assert len(months) == len(found)  # one per month
    assert {o.starts_at.astimezone(tz).hour for o in found} == {hour}
    assert all(a.starts_at < b.starts_at for a, b in itertools.pairwise(found))


def test_a_planned_moment_the_clocks_skip_moves_forward_with_them() -> None:
    """A holiday's midnight or an action's reminder hour is planned, not typed: in a gap it is
    the moment the clocks jump to (Havana skips 00:00-01:00 on 14 March 2027), never refused."""
    havana = ZoneInfo("America/Havana")
    with pytest.raises(NonexistentTime):
        to_utc(datetime(2027, 3, 14, 0, 0), havana)
    midnight = planned_moment(datetime(2027, 3, 14, 0, 0), havana)
    assert midnight == to_utc(datetime(2027, 3, 14, 1, 0), havana)
    assert midnight.astimezone(havana).date().isoformat() == "2027-03-14"
    assert planned_moment(datetime(2027, 3, 15, 9, 0), havana) == to_utc(
        datetime(2027, 3, 15, 9, 0), havana
    )
