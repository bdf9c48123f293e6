"""Business hours in-process: next opening across weekends, holidays and DST; the shopper's notice."""

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.nlg import MultilingualNLG
from handoff import protocol
from handoff.business_hours import BusinessHours, local_when, zone
from handoff.lifecycle import Lifecycle
from handoff.store import SQLStore

UTC = dt.timezone.utc
TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")


def at(zone_info, *fields) -> dt.datetime:
    return dt.datetime(*fields, tzinfo=zone_info)


def test_friday_evening_in_tokyo_reopens_monday_morning_in_tokyo():
    hours = BusinessHours.parse("Mon-Fri 09:00-18:00 Asia/Tokyo")
    assert hours.is_open(at(TOKYO, 2026, 12, 4, 17, 59))  # Friday
    assert hours.next_opening(at(TOKYO, 2026, 12, 4, 18, 0)) == at(TOKYO, 2026, 12, 7, 9, 0)  # end is exclusive
    assert hours.next_opening(at(TOKYO, 2026, 12, 6, 23, 0)) == at(TOKYO, 2026, 12, 7, 9, 0)  # Sunday night
    assert hours.next_opening(at(TOKYO, 2026, 12, 7, 8, 59)) == at(TOKYO, 2026, 12, 7, 9, 0)


def test_holidays_are_skipped_including_a_run_of_them_over_a_weekend():
    hours = BusinessHours.parse("Mon-Fri 09:00-18:00 Asia/Tokyo", "2026-12-31,2027-01-01, 2027-01-04")
    assert hours.next_opening(at(TOKYO, 2026, 12, 30, 19, 0)) == at(TOKYO, 2027, 1, 5, 9, 0)
    assert not hours.is_open(at(TOKYO, 2026, 12, 31, 12, 0))


def test_opening_follows_the_local_clock_across_dst_changes():
    hours = BusinessHours.parse("Mon-Sun 09:00-17:00 Europe/Berlin")
    # Spring forward on 2026-03-29: 09:00 is 08:00 UTC on Saturday and 07:00 UTC on Sunday.
    assert hours.next_opening(dt.datetime(2026, 3, 28, 20, 0, tzinfo=UTC)) == dt.datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    # Fall back on 2026-10-25: back to 08:00 UTC.
    assert hours.next_opening(dt.datetime(2026, 10, 24, 20, 0, tzinfo=UTC)) == dt.datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    assert hours.is_open(dt.datetime(2026, 10, 25, 15, 30, tzinfo=UTC))  # 16:30 Berlin (winter time)
    assert not hours.is_open(dt.datetime(2026, 3, 29, 15, 30, tzinfo=UTC))  # 17:30 Berlin (summer time)


def test_several_ranges_a_shared_zone_and_a_night_shift_past_midnight():
    hours = BusinessHours.parse("Mon-Fri 09:00-12:00,13:00-18:00; Sat 22:00-02:00 Asia/Tokyo")
    assert hours.next_opening(at(TOKYO, 2026, 12, 7, 12, 30)) == at(TOKYO, 2026, 12, 7, 13, 0)  # lunch break
    assert hours.is_open(at(TOKYO, 2026, 12, 6, 1, 30))  # Sunday 01:30: Saturday's night shift
    assert hours.next_opening(at(TOKYO, 2026, 12, 4, 18, 0)) == at(TOKYO, 2026, 12, 5, 22, 0)
    assert BusinessHours.parse("Fri-Mon 10:00-11:00 UTC").next_opening(
        dt.datetime(2026, 12, 8, 0, 0, tzinfo=UTC)) == dt.datetime(2026, 12, 11, 10, 0, tzinfo=UTC)  # Tue -> Fri


def test_no_hours_means_always_open_and_bad_settings_say_what_is_wrong():
    assert BusinessHours.parse("").is_open(dt.datetime.now(UTC))
    for spec, words in (("Mon-Fri 9-18 Asia/Tokyo", "time range"), ("Mon-Fry 09:00-18:00", "day"),
                        ("Mon-Fri 09:00-18:00 Mars/Olympus", "IANA"), ("Mon 09:00-24:30", "24:00"),
                        ("Mon-Fri", "DAYS HH:MM")):
        with pytest.raises(ValueError, match=words):
            BusinessHours.parse(spec)
    with pytest.raises(ValueError, match="holiday"):
        BusinessHours.parse("Mon 09:00-10:00", "31/12/2026")


def test_the_time_zone_of_the_widget_is_checked_against_the_iana_database():
    assert zone("Asia/Tokyo") == TOKYO and zone("UTC") is not None
    for bad in ("../../etc/passwd", "/etc/localtime", "Asia/Nowhere", "", "x" * 65, 9, None):
        assert zone(bad) is None, bad
    ok = protocol.parse_user_uttered({"message": "hi", "metadata": {"timezone": "Europe/Paris"}}, 100)
    assert ok.metadata["timezone"] == "Europe/Paris"
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.parse_user_uttered({"message": "hi", "metadata": {"timezone": "../../etc/passwd"}}, 100)
    assert refused.value.code == "invalid_timezone"


def test_reopening_time_is_written_in_the_shoppers_language_and_zone():
    opening = at(TOKYO, 2026, 12, 7, 9, 0)
    assert local_when(opening, "ja", TOKYO) == "12月7日月曜日 9:00"
    assert local_when(opening, "fr", ZoneInfo("Europe/Paris")) == "lun. 7 déc. 01:00"  # Monday 01:00 in Paris
    assert local_when(opening, "en", ZoneInfo("America/Los_Angeles")) == "Sun, Dec 6 4:00\u202fPM"  # still Sunday there (CLDR: narrow no-break space)
    assert local_when(opening, "xx", None) == "Mon, Dec 7 12:00\u202fAM"  # unknown language and zone: English, UTC


class PausingBot:
    """The one call the lifecycle makes on the bot when it queues a conversation."""

    async def run_on_tracker(self, conversation_id, events):
        return None


def test_a_shopper_asking_for_a_person_out_of_hours_is_told_when_the_team_is_back(tmp_path):
    store = SQLStore(f"sqlite:///{tmp_path / 'crossdesk.db'}")
    now = dt.datetime.now(UTC)
    opens = (now + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    hours = BusinessHours.parse(f"Mon-Sun {opens:%H:%M}-{opens + dt.timedelta(minutes=30):%H:%M} UTC")
    lifecycle = Lifecycle(store, PausingBot(), MultilingualNLG(), agents_online=lambda: 1, hours=hours)
    conversation = store.ensure_conversation("s" * 32, locale="de-DE")
    store.add_message(conversation.id, "shopper", "Mensch bitte", language="de",
                      data={"metadata": {"timezone": "Asia/Tokyo"}})
    store.update_conversation(conversation.id, language="de")
    conversation = store.get_conversation(conversation.id)
    [notice] = asyncio.run(lifecycle.request(conversation, "request_human"))
    assert notice.data["event"] == "utter_handoff_closed" and notice.language == "de"
    assert notice.data["reopens_at"] == opens.timestamp()
    assert local_when(opens, "de", TOKYO) in notice.text and "Ortszeit" in notice.text
    assert lifecycle.bundle(conversation.id)["context"]["timezone"] == "Asia/Tokyo"
    # Within the hours the usual queue notice comes instead.
    lifecycle.hours = BusinessHours.parse("Mon-Sun 00:00-24:00 UTC")
    store.transition(conversation.id, "bot", "agent:1", "handback", ("waiting",))
    [queued] = asyncio.run(lifecycle.request(store.get_conversation(conversation.id), "request_human"))
    assert queued.data["event"] == "utter_handoff_waiting"
    store.close()


def test_a_bad_hours_setting_stops_the_server_with_a_one_line_reason(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "CROSSDESK_VAR_DIR": str(tmp_path), "CROSSDESK_BUSINESS_HOURS": "Mon-Fri 9-18 Asia/Tokyo",
           "CROSSDESK_MODEL_PATH": "unused.tar.gz", "RASA_TELEMETRY_ENABLED": "false"}
    run = subprocess.run([sys.executable, "-m", "handoff", "serve"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "error: CROSSDESK_BUSINESS_HOURS / CROSSDESK_HOLIDAYS: '9-18' is not a time range HH:MM-HH:MM")
