"""Support KPIs computed by SQL over the stored history (SQLite and PostgreSQL alike).

Every figure is a table: a :class:`Chart` with named columns and rows, which
the dashboard draws, shows as its accessible table and exports as CSV. The
figures are defined precisely in ``docs/kpis.md``. A figure is a function
``(conn, window) -> list[Chart]`` in :data:`FIGURES`; ticket and CSAT figures
plug in the same way once their tables exist (see :data:`PENDING`).

Heavy lifting stays in the database (grouping, window functions, index
lookups on ``messages(conversation_id, id)``); Python only pairs events and
buckets timestamps by the shop's time zone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Callable, Mapping, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import JSON, String, cast, func, literal, select
from sqlalchemy.engine import Connection, Engine

from handoff.store.sql import conversations, messages, transitions

MAX_DAYS = 366
DEFAULT_DAYS = 30
# A wait or a first response that ends this long after the range still counts;
# later ones count as open (bounds the rows fetched for a past range).
HORIZON_SECONDS = 30 * 86400
HANDOFF_STATES = ("waiting", "with_agent")  # a person is involved from here on
NOT_UNDERSTOOD = "nlu_fallback"
TOP_NOT_UNDERSTOOD = 10
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NONE_LABEL = "(none)"
ALL_LABEL = "(all)"
PENDING = ("tickets", "csat")  # figures that plug in when their tables exist (another issue)


@dataclass(frozen=True)
class Window:
    """The date range asked for, as UTC epoch bounds ``[start, end)``.

    Attributes:
        first_day, last_day: inclusive local dates in ``tz``.
        tz: the shop's time zone.
    """

    first_day: dt.date
    last_day: dt.date
    tz: ZoneInfo

    @property
    def start(self) -> float:
        return dt.datetime.combine(self.first_day, dt.time(), self.tz).timestamp()

    @property
    def end(self) -> float:
        return dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time(), self.tz).timestamp()


def parse_window(args: Mapping[str, str], today: Optional[dt.date] = None) -> Window:
    """``from``/``to`` (``YYYY-MM-DD``, inclusive, in ``tz``) and ``tz`` (IANA name; UTC by default).

    Missing dates mean the last 30 days up to today. Raises ValueError with a
    message for the user on bad input.
    """
    name = args.get("tz") or "UTC"
    try:
        if len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
            raise ValueError
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'tz' must be an IANA time zone name such as Asia/Tokyo, not {name!r}") from None
    today = today or dt.datetime.now(tz).date()
    last = _day(args.get("to"), "to") or today
    first = _day(args.get("from"), "from") or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValueError("'from' must not be after 'to'")
    if (last - first).days >= MAX_DAYS:
        raise ValueError(f"the range may span at most {MAX_DAYS} days")
    return Window(first, last, tz)


def _day(value: Optional[str], name: str) -> Optional[dt.date]:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{name}' must be a date YYYY-MM-DD") from None


@dataclass
class Chart:
    """One figure: a table, and how to draw it.

    Attributes:
        id: stable name (CSV ``chart=`` parameter, UI title key).
        kind: ``bar`` or ``table`` (a list with no meaningful chart).
        x: the column(s) labelling each bar.
        series: the numeric columns drawn as bars.
        columns, rows: the table.
    """

    id: str
    kind: str
    x: list[str]
    series: list[str]
    columns: list[str]
    rows: list[list] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def percent(part: int, whole: int) -> Optional[float]:
    """``part/whole`` in percent with one decimal, None when there is nothing to divide."""
    return round(100.0 * part / whole, 1) if whole else None


def nearest_rank(values: list[float], p: float) -> Optional[float]:
    """The nearest-rank ``p``-th percentile (an observed value), rounded to 0.1 s."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1], 1)


def json_text(column, key: str, dialect: str):
    """A JSON text column's top-level string ``key`` as SQL text, on SQLite and PostgreSQL."""
    if dialect == "postgresql":
        return cast(column, JSON)[key].as_string()
    return cast(func.json_extract(column, f"$.{key}"), String)


# -- the figures ---------------------------------------------------------------------------------

def active_conversations(conn: Connection, window: Window) -> list:
    """One row per conversation with a shopper message in the range.

    Columns: id, language, first_id/first_at (its first shopper message in the
    range), intent (what the bot read in that message), trigger (the reason of
    its first handoff before the range's end, None if contained).
    """
    dialect = conn.dialect.name
    in_range = (select(messages.c.conversation_id.label("cid"), func.min(messages.c.id).label("first_id"))
                .where(messages.c.sender == "shopper", messages.c.created_at >= window.start,
                       messages.c.created_at < window.end)
                .group_by(messages.c.conversation_id).subquery())
    first_handoff = (select(transitions.c.conversation_id.label("cid"), func.min(transitions.c.id).label("tid"))
                     .where(transitions.c.from_state == "bot", transitions.c.to_state.in_(HANDOFF_STATES),
                            transitions.c.created_at < window.end)
                     .group_by(transitions.c.conversation_id).subquery())
    handoff = transitions.alias("handoff")
    query = (select(in_range.c.cid, conversations.c.language, in_range.c.first_id,
                    messages.c.created_at.label("first_at"),
                    json_text(messages.c.data, "intent", dialect).label("intent"),
                    handoff.c.reason.label("trigger"))
             .select_from(in_range
                          .join(conversations, conversations.c.id == in_range.c.cid)
                          .join(messages, messages.c.id == in_range.c.first_id)
                          .outerjoin(first_handoff, first_handoff.c.cid == in_range.c.cid)
                          .outerjoin(handoff, handoff.c.id == first_handoff.c.tid)))
    return conn.execute(query).all()


def containment_charts(active: list) -> list[Chart]:
    """Containment overall and by language, by intent; conversations lost to each trigger."""
    charts = []
    for name, key in (("language", lambda r: r.language), ("intent", lambda r: r.intent)):
        totals, contained = Counter(), Counter()
        for row in active:
            label = key(row) or NONE_LABEL
            totals[label] += 1
            contained[label] += row.trigger is None
        rows = [[label, totals[label], contained[label], percent(contained[label], totals[label])]
                for label in sorted(totals, key=lambda k: (-totals[k], k))]
        if name == "language":
            all_contained = sum(contained.values())
            rows.insert(0, [ALL_LABEL, len(active), all_contained, percent(all_contained, len(active))])
        charts.append(Chart(f"containment_by_{name}", "bar", [name], ["containment_pct"],
                            [name, "conversations", "contained", "containment_pct"], rows))
    lost = Counter(row.trigger for row in active if row.trigger is not None)
    charts.append(Chart("lost_by_trigger", "bar", ["trigger"], ["conversations"],
                        ["trigger", "conversations", "share_pct"],
                        [[trigger, count, percent(count, len(active))]
                         for trigger, count in sorted(lost.items(), key=lambda kv: (-kv[1], kv[0]))]))
    return charts


def handoff_chart(conn: Connection, window: Window) -> Chart:
    """Handoffs (``bot`` → a person) started in the range, by trigger and language."""
    query = (select(transitions.c.reason, conversations.c.language, func.count())
             .select_from(transitions.join(conversations, conversations.c.id == transitions.c.conversation_id))
             .where(transitions.c.from_state == "bot", transitions.c.to_state.in_(HANDOFF_STATES),
                    transitions.c.created_at >= window.start, transitions.c.created_at < window.end)
             .group_by(transitions.c.reason, conversations.c.language))
    rows = [[reason, language or NONE_LABEL, count] for reason, language, count in conn.execute(query)]
    rows.sort(key=lambda r: (-r[2], r[0], r[1]))
    return Chart("handoffs_by_trigger_language", "bar", ["trigger", "language"], ["handoffs"],
                 ["trigger", "language", "handoffs"], rows)


def bot_first_responses(conn: Connection, active: list) -> list[float]:
    """Seconds from each active conversation's first shopper message in the range to the bot's next message."""
    reply = messages.alias("reply")
    shopper = messages.alias("shopper")
    ids = [row.first_id for row in active]
    waits = []
    for chunk in range(0, len(ids), 20_000):  # bounded IN lists (PostgreSQL and SQLite limits)
        next_bot = (select(func.min(reply.c.created_at))
                    .where(reply.c.conversation_id == shopper.c.conversation_id, reply.c.sender == "bot",
                           reply.c.id > shopper.c.id).scalar_subquery())
        query = select(shopper.c.created_at, next_bot).where(shopper.c.id.in_(ids[chunk:chunk + 20_000]))
        waits.extend(answered - asked for asked, answered in conn.execute(query) if answered is not None)
    return waits


@dataclass
class PersonEvents:
    """Transitions and agent messages from the range's start, per conversation, in order."""

    transitions: dict = field(default_factory=lambda: defaultdict(list))
    agent_messages: dict = field(default_factory=lambda: defaultdict(list))


def person_events(conn: Connection, window: Window) -> PersonEvents:
    """What happened between shoppers and people from the range's start to its end plus the horizon."""
    until = window.end + HORIZON_SECONDS
    events = PersonEvents()
    query = (select(transitions.c.conversation_id, transitions.c.from_state, transitions.c.to_state,
                    transitions.c.actor, transitions.c.reason, transitions.c.created_at)
             .where(transitions.c.created_at >= window.start, transitions.c.created_at < until,
                    transitions.c.to_state.in_(HANDOFF_STATES + ("resolved",)))
             .order_by(transitions.c.conversation_id, transitions.c.id))
    for row in conn.execute(query):
        events.transitions[row.conversation_id].append(row)
    agent_id = json_text(messages.c.data, "agent_id", conn.dialect.name)
    query = (select(messages.c.conversation_id, messages.c.created_at, agent_id.label("agent_id"))
             .where(messages.c.sender == "agent", messages.c.created_at >= window.start, messages.c.created_at < until)
             .order_by(messages.c.conversation_id, messages.c.id))
    for row in conn.execute(query):
        events.agent_messages[row.conversation_id].append(row)
    return events


def _agent_of(actor: str) -> Optional[str]:
    return actor[len("agent:"):] if actor.startswith("agent:") else None


@dataclass
class PersonFigures:
    """Durations (seconds) and per-agent tallies from :func:`person_figures`."""

    queue_waits: list[float] = field(default_factory=list)
    open_waits: int = 0
    first_responses: list[float] = field(default_factory=list)
    unanswered: int = 0
    per_agent: dict = field(default_factory=lambda: defaultdict(lambda: {
        "conversations": set(), "messages": 0, "first_responses": [], "resolutions": []}))


def person_figures(events: PersonEvents, window: Window) -> PersonFigures:
    """Queue waits, people's first responses and per-agent tallies, by pairing events in order."""
    figures = PersonFigures()
    in_range = lambda ts: window.start <= ts < window.end  # noqa: E731
    for cid, steps in events.transitions.items():
        replies = events.agent_messages.get(cid, [])
        for i, step in enumerate(steps):
            if not in_range(step.created_at):
                continue
            if step.to_state == "waiting":
                claim = next((s for s in steps[i + 1:] if s.to_state == "with_agent"), None)
                if claim is None:
                    figures.open_waits += 1
                else:
                    figures.queue_waits.append(claim.created_at - step.created_at)
            if step.to_state == "with_agent":
                target = step.reason[len("transfer:"):] if step.reason.startswith("transfer:") else _agent_of(step.actor)
                if target:
                    figures.per_agent[target]["conversations"].add(cid)
            if step.from_state == "bot" and step.to_state in HANDOFF_STATES:
                reply = next((m for m in replies if m.created_at >= step.created_at), None)
                if reply is None:
                    figures.unanswered += 1
                else:
                    figures.first_responses.append(reply.created_at - step.created_at)
                    if reply.agent_id is not None:
                        figures.per_agent[str(reply.agent_id)]["first_responses"].append(
                            reply.created_at - step.created_at)
        for reply in replies:
            if in_range(reply.created_at) and reply.agent_id is not None:
                figures.per_agent[str(reply.agent_id)]["messages"] += 1
    return figures


def resolutions(conn: Connection, window: Window) -> list[tuple[Optional[str], float]]:
    """``(agent id, seconds)`` per resolution in the range.

    Measured from the first shopper message after the conversation's previous
    resolution (a reopened conversation starts over) to the resolution.
    """
    resolved = (select(transitions.c.conversation_id.label("cid"), transitions.c.actor, transitions.c.created_at,
                       func.lag(transitions.c.created_at).over(partition_by=transitions.c.conversation_id,
                                                               order_by=transitions.c.id).label("previous"))
                .where(transitions.c.to_state == "resolved", transitions.c.created_at < window.end).subquery())
    started = (select(func.min(messages.c.created_at))
               .where(messages.c.conversation_id == resolved.c.cid, messages.c.sender == "shopper",
                      messages.c.created_at > func.coalesce(resolved.c.previous, literal(0.0)))
               .scalar_subquery())
    query = select(resolved.c.actor, resolved.c.created_at, started).where(resolved.c.created_at >= window.start)
    return [(_agent_of(actor), at - first) for actor, at, first in conn.execute(query) if first is not None]


def time_chart(waits: PersonFigures, bot: list[float], resolved: list[tuple]) -> Chart:
    """Queue wait, first responses and resolution time: count, p50, p90, still open."""
    durations = [r[1] for r in resolved]
    rows = [["queue_wait", len(waits.queue_waits), *_p50_p90(waits.queue_waits), waits.open_waits],
            ["bot_first_response", len(bot), *_p50_p90(bot), None],
            ["agent_first_response", len(waits.first_responses), *_p50_p90(waits.first_responses), waits.unanswered],
            ["resolution", len(durations), *_p50_p90(durations), None]]
    return Chart("response_times", "bar", ["measure"], ["p50_s", "p90_s"],
                 ["measure", "count", "p50_s", "p90_s", "open"], rows)


def _p50_p90(values: list[float]) -> list[Optional[float]]:
    return [nearest_rank(values, 50), nearest_rank(values, 90)]


def agent_chart(conn: Connection, figures: PersonFigures, resolved: list[tuple]) -> Chart:
    """Per agent: conversations taken, messages sent, first response p50, resolutions and their p50."""
    from handoff.store.sql import agents

    names = {str(row.id): row.display_name for row in conn.execute(select(agents.c.id, agents.c.display_name))}
    by_agent = defaultdict(list)
    for agent, seconds in resolved:
        if agent:
            by_agent[agent].append(seconds)
    rows = []
    for agent in sorted(set(figures.per_agent) | set(by_agent), key=lambda a: names.get(a, a)):
        tally = figures.per_agent[agent]
        rows.append([names.get(agent, f"#{agent}"), len(tally["conversations"]), tally["messages"],
                     nearest_rank(tally["first_responses"], 50), len(by_agent[agent]),
                     nearest_rank(by_agent[agent], 50)])
    return Chart("agents", "bar", ["agent"], ["conversations"],
                 ["agent", "conversations", "messages", "first_response_p50_s", "resolutions", "resolution_p50_s"],
                 rows)


class LocalClock:
    """(weekday, hour) of UTC timestamps in a time zone, DST-correct.

    Every UTC offset in use is a multiple of 15 minutes and changes only on a
    quarter hour, so the answer is cached per UTC quarter hour: 100,000
    timestamps take ~25 ms instead of ~150 ms with a zoneinfo call each
    (measured on this machine).
    """

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self._cache: dict[int, tuple[int, int]] = {}

    def weekday_hour(self, ts: float) -> tuple[int, int]:
        quarter = int(ts // 900)
        hit = self._cache.get(quarter)
        if hit is None:
            local = dt.datetime.fromtimestamp(quarter * 900, self.tz)
            hit = self._cache[quarter] = (local.weekday(), local.hour)
        return hit


def volume_charts(active: list, window: Window) -> list[Chart]:
    """Conversations by local hour of day and day of week (of their first shopper message in the range)."""
    clock = LocalClock(window.tz)
    hours, days = [0] * 24, [0] * 7
    for row in active:
        day, hour = clock.weekday_hour(row.first_at)
        hours[hour] += 1
        days[day] += 1
    return [Chart("volume_by_hour", "bar", ["hour"], ["conversations"], ["hour", "conversations"],
                  [[h, n] for h, n in enumerate(hours)]),
            Chart("volume_by_weekday", "bar", ["weekday"], ["conversations"], ["weekday", "conversations"],
                  [[WEEKDAYS[d], n] for d, n in enumerate(days)])]


def not_understood_chart(conn: Connection, window: Window) -> Chart:
    """The shopper messages the bot most often did not understand, per language (top 10 each)."""
    language = func.coalesce(messages.c.language, conversations.c.language)
    text = func.lower(func.trim(messages.c.text))
    query = (select(language.label("language"), text.label("text"), func.count().label("n"))
             .select_from(messages.join(conversations, conversations.c.id == messages.c.conversation_id))
             .where(messages.c.sender == "shopper", messages.c.created_at >= window.start,
                    messages.c.created_at < window.end,
                    json_text(messages.c.data, "intent", conn.dialect.name) == NOT_UNDERSTOOD)
             .group_by(language, text))
    per_language = defaultdict(list)
    for row in conn.execute(query):
        per_language[row.language or NONE_LABEL].append([row.language or NONE_LABEL, row.text, row.n])
    rows = []
    for lang in sorted(per_language):
        rows.extend(sorted(per_language[lang], key=lambda r: (-r[2], r[1]))[:TOP_NOT_UNDERSTOOD])
    return Chart("not_understood", "table", ["language", "text"], ["count"], ["language", "text", "count"], rows)


def conversation_figures(conn: Connection, window: Window) -> list[Chart]:
    """Every figure over conversations, messages and transitions."""
    active = active_conversations(conn, window)
    events = person_figures(person_events(conn, window), window)
    resolved = resolutions(conn, window)
    return [*containment_charts(active), handoff_chart(conn, window),
            time_chart(events, bot_first_responses(conn, active), resolved),
            *volume_charts(active, window), not_understood_chart(conn, window),
            agent_chart(conn, events, resolved)]


Figure = Callable[[Connection, Window], list[Chart]]
# Ticket and CSAT figures join this list when their tables exist.
FIGURES: list[Figure] = [conversation_figures]


def compute(engine: Engine, window: Window, figures: Optional[list[Figure]] = None) -> dict:
    """All KPIs for a window, JSON-ready: ``{"from", "to", "tz", "charts": [...], "pending": [...]}``."""
    charts: list[Chart] = []
    with engine.connect() as conn:
        for figure in figures or FIGURES:
            charts.extend(figure(conn, window))
    return {"from": window.first_day.isoformat(), "to": window.last_day.isoformat(), "tz": window.tz.key,
            "charts": [c.as_dict() for c in charts], "pending": list(PENDING)}


def chart_csv(chart: dict) -> str:
    """One chart's table as CSV (header row first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(chart["columns"])
    writer.writerows(["" if v is None else v for v in row] for row in chart["rows"])
    return out.getvalue()


__all__ = ["Chart", "FIGURES", "PENDING", "Window", "chart_csv", "compute", "parse_window"]
