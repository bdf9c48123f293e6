"""Business hours: when the team answers, and when it is back, in the team's and the shopper's time zones.

``CROSSDESK_BUSINESS_HOURS`` holds entries separated by ``;``, each
``DAYS RANGES [ZONE]``: ``DAYS`` a day (``Sat``), a span (``Mon-Fri``, also
across the week end: ``Fri-Mon``) or a comma list (``Mon,Wed,Fri``); ``RANGES``
one or more ``HH:MM-HH:MM`` separated by commas (``24:00`` ends at midnight; an
end before the start runs past midnight); ``ZONE`` an IANA time zone. An entry
without a zone takes the zone named last in the setting (so
``Mon-Fri 09:00-18:00; Sat 10:00-14:00 Asia/Tokyo`` is all Tokyo time), else UTC.
``CROSSDESK_HOLIDAYS`` lists dates (``YYYY-MM-DD``) on which a range that starts
that day (in its own zone) does not open. Empty hours: always open.

Local times are turned into instants with ``zoneinfo``: a range opening at a
wall-clock time the DST change skips (02:30 on the spring-forward night) opens
at the instant that wall-clock time maps to (fold 0), the rules Python applies.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Iterator, Optional
from zoneinfo import ZoneInfo, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_ZONE_CHARS = 64
LOOKAHEAD_DAYS = 400  # a year of holidays and then some: beyond that the team is "never" back
_RANGE_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)\Z")


class InvalidHours(ValueError):
    """The business-hours settings cannot be read (the server refuses to start, saying why)."""


@functools.lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def zone(name: object) -> Optional[ZoneInfo]:
    """The IANA zone called ``name``, or None if it is not one (never a path, never an exception)."""
    if type(name) is not str or not name or len(name) > MAX_ZONE_CHARS or name not in _zones():
        return None
    return ZoneInfo(name)


@dataclass(frozen=True)
class Opening:
    """One weekly range: on ``weekday`` (0 = Monday) from ``start`` for ``minutes``, in ``tz``."""

    weekday: int
    start: dt.time
    minutes: int
    tz: ZoneInfo


def _days(token: str) -> list[int]:
    days: list[int] = []
    for part in token.lower().split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"'{part}' is not a day or a span of days (Mon, Tue, ..., Sun; e.g. Mon-Fri)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
    return days


def _ranges(token: str) -> list[tuple[dt.time, int]]:
    ranges = []
    for part in token.split(","):
        match = _RANGE_RE.match(part)
        if not match:
            raise ValueError(f"'{part}' is not a time range HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h2 == 24 and m2:
            raise ValueError(f"'{part}': 24:00 is the latest end")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        minutes = (end - start) % (24 * 60) or 24 * 60  # an end before the start runs past midnight
        ranges.append((dt.time(h1, m1), minutes))
    return ranges


class BusinessHours:
    """The team's weekly openings and holidays.

    Args:
        openings: the weekly ranges; none means always open.
        holidays: dates on which no range opens (in each range's own zone).
    """

    def __init__(self, openings: list[Opening], holidays: frozenset[dt.date] = frozenset()):
        self.openings = openings
        self.holidays = holidays

    @classmethod
    def parse(cls, spec: str, holidays: str = "") -> "BusinessHours":
        """Read ``CROSSDESK_BUSINESS_HOURS`` and ``CROSSDESK_HOLIDAYS``; ValueError says what is wrong."""
        entries = [e.split() for e in (spec or "").split(";") if e.strip()]
        named = [zone(tokens[-1]) for tokens in entries if len(tokens) == 3]
        if any(z is None for z in named):
            bad = next(t[-1] for t in entries if len(t) == 3 and zone(t[-1]) is None)
            raise ValueError(f"'{bad}' is not an IANA time zone (e.g. Asia/Tokyo)")
        default = named[-1] if named else ZoneInfo("UTC")
        openings = []
        for tokens in entries:
            if len(tokens) not in (2, 3):
                raise ValueError(f"'{' '.join(tokens)}' is not 'DAYS HH:MM-HH:MM [ZONE]'")
            tz = zone(tokens[2]) if len(tokens) == 3 else default
            for weekday in _days(tokens[0]):
                openings.extend(Opening(weekday, start, minutes, tz) for start, minutes in _ranges(tokens[1]))
        days = set()
        for text in (holidays or "").split(","):
            if text.strip():
                try:
                    days.add(dt.date.fromisoformat(text.strip()))
                except ValueError:
                    raise ValueError(f"holiday '{text.strip()}' is not a date YYYY-MM-DD") from None
        return cls(openings, frozenset(days))

    @classmethod
    def from_settings(cls, settings) -> "BusinessHours":
        """From ``CROSSDESK_BUSINESS_HOURS`` and ``CROSSDESK_HOLIDAYS``; InvalidHours names the setting at fault."""
        try:
            return cls.parse(settings.business_hours, settings.holidays)
        except ValueError as error:
            raise InvalidHours(f"CROSSDESK_BUSINESS_HOURS / CROSSDESK_HOLIDAYS: {error}") from None

    @property
    def always_open(self) -> bool:
        return not self.openings

    def _intervals(self, first: dt.date, days: int) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """The open intervals (UTC) of the ranges that start on ``first`` .. ``first + days`` (local dates)."""
        for offset in range(days):
            day = first + dt.timedelta(days=offset)
            if day in self.holidays:
                continue
            found = []
            for opening in self.openings:
                if opening.weekday != day.weekday():
                    continue
                start = dt.datetime.combine(day, opening.start, opening.tz).astimezone(dt.timezone.utc)
                found.append((start, start + dt.timedelta(minutes=opening.minutes)))
            yield from sorted(found)

    def is_open(self, at: dt.datetime) -> bool:
        """Whether the team works at the aware instant ``at``."""
        return self.always_open or self.next_opening(at) is None

    def next_opening(self, at: dt.datetime) -> Optional[dt.datetime]:
        """When the team opens next (UTC), or None if it is open at ``at``.

        Also None when nothing opens within ``LOOKAHEAD_DAYS`` (then ``is_open``
        would lie: :meth:`closed_until` tells the two apart).
        """
        return self.closed_until(at)[1]

    def closed_until(self, at: dt.datetime) -> tuple[bool, Optional[dt.datetime]]:
        """(closed now, next opening in UTC or None if none within ``LOOKAHEAD_DAYS``)."""
        if self.always_open:
            return False, None
        at = at.astimezone(dt.timezone.utc)
        # Local dates differ from UTC by at most 14 hours: start two days back for ranges running into today.
        first = at.date() - dt.timedelta(days=2)
        for start, end in self._intervals(first, LOOKAHEAD_DAYS + 2):
            if start <= at < end:
                return False, None
            if start > at:
                return True, start
        return True, None


def local_when(instant: dt.datetime, language: str, tz: Optional[ZoneInfo]) -> str:
    """``instant`` as the shopper reads it: weekday, date and time in their language and zone (UTC if unknown)."""
    from babel import Locale, UnknownLocaleError
    from babel.dates import format_skeleton, format_time

    try:
        locale = Locale.parse((language or "en").replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        locale = Locale.parse("en")
    local = instant.astimezone(tz or dt.timezone.utc)
    day = format_skeleton("MMMMEEEEd", local, tzinfo=local.tzinfo, locale=locale)
    return f"{day} {format_time(local, 'short', tzinfo=local.tzinfo, locale=locale)}"


__all__ = ["BusinessHours", "InvalidHours", "Opening", "local_when", "zone"]
