"""KPIs over a known history (``tests/kpi_history.py``): every figure exactly, in-process and over HTTP."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handoff import kpis
from handoff.store import SQLStore
from tests.kpi_history import T0, seed
from tests.support import ServerProcess, free_port, login

TOKYO_DAY = {"from": "2026-03-03", "to": "2026-03-03", "tz": "Asia/Tokyo"}


@contextlib.contextmanager
def postgres():
    """A throwaway PostgreSQL server (initdb + pg_ctl, as ``postgres`` when run as root); its URL."""
    initdb = shutil.which("initdb") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))), None)
    if not initdb:
        pytest.skip("PostgreSQL is not installed")
    bin_dir, port = Path(initdb).parent, free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="crossdesk-kpis-pg-"))  # pytest's folders are private to root
    if as_user:
        shutil.chown(folder, "postgres")
    data = folder / "data"
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"),
                    "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request, tmp_path_factory):
    """The seeded history on SQLite, then on PostgreSQL: the same SQL must give the same figures."""
    folder = tmp_path_factory.mktemp("kpis")
    with contextlib.ExitStack() as stack:
        url = (f"sqlite:///{folder / 'crossdesk.db'}" if request.param == "sqlite"
               else stack.enter_context(postgres()))
        store = SQLStore(url)
        seed(store)
        yield store
        store.close()


def charts(store: SQLStore, args: dict) -> dict:
    report = kpis.compute(store.engine, kpis.parse_window(args))
    return {chart["id"]: chart["rows"] for chart in report["charts"]}


@pytest.fixture(scope="module")
def tokyo(store) -> dict:
    return charts(store, TOKYO_DAY)


def test_containment_counts_conversations_of_the_day_that_never_reached_a_person(tokyo):
    assert tokyo["containment_by_language"] == [
        ["(all)", 7, 2, 28.6], ["en", 2, 1, 50.0], ["ja", 2, 1, 50.0],
        ["de", 1, 0, 0.0], ["fr", 1, 0, 0.0], ["ko", 1, 0, 0.0]]
    assert tokyo["containment_by_intent"] == [
        ["delivery_problem", 1, 0, 0.0], ["nlu_fallback", 1, 0, 0.0], ["order_tracking", 1, 0, 0.0],
        ["payment_methods", 1, 1, 100.0], ["refund_status", 1, 0, 0.0], ["request_human", 1, 0, 0.0],
        ["shipping_time", 1, 1, 100.0]]
    assert tokyo["lost_by_trigger"] == [
        ["request_human", 2, 28.6], ["delivery_problem", 1, 14.3], ["fallback", 1, 14.3], ["takeover", 1, 14.3]]


def test_handoffs_are_counted_per_trigger_and_language_and_a_requeue_is_not_a_handoff(tokyo):
    assert tokyo["handoffs_by_trigger_language"] == [
        ["request_human", "ko", 2], ["delivery_problem", "de", 1], ["fallback", "fr", 1],
        ["request_human", "ja", 1], ["takeover", "en", 1]]


def test_waits_first_responses_and_resolution_times_are_nearest_rank_percentiles(tokyo):
    # queue waits 10, 30, 60, 60 (requeue), 120 and c5 still waiting; bot 1,1,1,2,2,2,3;
    # people 20, 20, 40, 90, 180 and c5 unanswered; resolutions 300, 300 (after the reopen), 400, 1000.
    assert tokyo["response_times"] == [
        ["queue_wait", 5, 60.0, 120.0, 1], ["bot_first_response", 7, 2.0, 3.0, None],
        ["agent_first_response", 5, 40.0, 180.0, 1], ["resolution", 4, 300.0, 1000.0, None]]


def test_per_agent_figures(tokyo):
    assert tokyo["agents"] == [["Aiko", 2, 2, 20.0, 1, 400.0], ["Ben", 3, 3, 40.0, 3, 300.0]]


def test_messages_the_bot_did_not_understand_are_grouped_per_language_ignoring_case_and_spaces(tokyo):
    assert tokyo["not_understood"] == [["fr", "blorp?", 2], ["ja", "ほげほげ", 1]]


def test_volume_is_bucketed_in_the_shops_time_zone_across_midnight(store, tokyo):
    assert tokyo["volume_by_hour"] == [[h, 1 if 1 <= h <= 7 else 0] for h in range(24)]
    assert tokyo["volume_by_weekday"] == [[d, 7 if d == "Tue" else 0] for d in kpis.WEEKDAYS]
    # The same moments in UTC fall on Monday 2026-03-02, 14:00-22:00 (c8 included: 23:58 Tokyo is 14:58 UTC).
    utc = charts(store, {"from": "2026-03-02", "to": "2026-03-02", "tz": "UTC"})
    assert utc["volume_by_hour"] == [[h, 1 if 14 <= h <= 22 and h != 15 else 0] for h in range(24)]
    assert utc["volume_by_weekday"] == [[d, 8 if d == "Mon" else 0] for d in kpis.WEEKDAYS]
    assert utc["containment_by_language"][0] == ["(all)", 8, 3, 37.5]
    assert utc["not_understood"] == [["en", "zzz", 1], ["fr", "blorp?", 2], ["ja", "ほげほげ", 1]]


def test_a_range_with_nothing_in_it_gives_empty_figures(store):
    empty = charts(store, {"from": "2026-01-01", "to": "2026-01-31", "tz": "Asia/Tokyo"})
    assert empty["containment_by_language"] == [["(all)", 0, 0, None]]
    assert empty["response_times"][0] == ["queue_wait", 0, None, None, 0]
    assert empty["agents"] == [] and empty["not_understood"] == []


def test_local_clock_follows_daylight_saving_and_quarter_hour_zones():
    new_york = kpis.LocalClock(ZoneInfo("America/New_York"))
    utc = lambda *a: dt.datetime(*a, tzinfo=dt.timezone.utc).timestamp()  # noqa: E731
    assert new_york.weekday_hour(utc(2026, 3, 8, 6, 30)) == (6, 1)  # 01:30 EST, Sunday
    assert new_york.weekday_hour(utc(2026, 3, 8, 7, 30)) == (6, 3)  # 03:30 EDT: 02:xx never happens
    kathmandu = kpis.LocalClock(ZoneInfo("Asia/Kathmandu"))  # UTC+5:45
    assert kathmandu.weekday_hour(utc(2026, 3, 3, 0, 10)) == (1, 5)
    assert kathmandu.weekday_hour(utc(2026, 3, 3, 0, 20)) == (1, 6)


def test_window_is_local_midnight_to_midnight_and_bad_parameters_are_refused():
    window = kpis.parse_window(TOKYO_DAY)
    assert (window.start, window.end) == (T0, T0 + 86400)
    default = kpis.parse_window({"tz": "Asia/Tokyo"}, today=dt.date(2026, 3, 31))
    assert (default.first_day, default.last_day) == (dt.date(2026, 3, 2), dt.date(2026, 3, 31))
    for bad, message in [({"tz": "Mars/Olympus"}, "IANA"), ({"tz": "../etc/passwd"}, "IANA"),
                         ({"from": "2026-13-01"}, "'from'"), ({"to": "yesterday"}, "'to'"),
                         ({"from": "2026-03-04", "to": "2026-03-03"}, "after"),
                         ({"from": "2024-01-01", "to": "2026-01-01"}, "at most")]:
        with pytest.raises(ValueError, match=message):
            kpis.parse_window(bad)


def test_csv_has_the_charts_columns_and_rows():
    chart = kpis.Chart("x", "bar", ["a"], ["b"], ["a", "b"], [["ja", 1.5], ["fr", None]]).as_dict()
    assert list(csv.reader(io.StringIO(kpis.chart_csv(chart)))) == [["a", "b"], ["ja", "1.5"], ["fr", ""]]


# -- over HTTP, against a real server ------------------------------------------------------------

@pytest.fixture(scope="module")
def kpi_server(model_path, tmp_path_factory):
    var = tmp_path_factory.mktemp("kpi-server")
    seeded = SQLStore(f"sqlite:///{var / 'crossdesk.db'}")
    seed(seeded)
    seeded.close()
    process = ServerProcess(var, model_path).start()
    yield process
    process.stop()


def get(url: str, token: str = None) -> tuple:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_admins_get_the_kpis_over_http_and_others_are_refused(kpi_server):
    _, admin = login(kpi_server.url, "aiko", "password-aiko")
    _, agent = login(kpi_server.url, "ben", "password-ben")
    query = "/api/admin/kpis?from=2026-03-03&to=2026-03-03&tz=Asia/Tokyo"
    status, _, body = get(kpi_server.url + query, admin["token"])
    assert status == 200
    report = json.loads(body)
    assert (report["from"], report["to"], report["tz"], report["pending"]) == (
        "2026-03-03", "2026-03-03", "Asia/Tokyo", [])
    by_id = {c["id"]: c for c in report["charts"]}
    assert by_id["containment_by_language"]["rows"][0] == ["(all)", 7, 2, 28.6]
    assert by_id["agents"]["rows"] == [["Aiko", 2, 2, 20.0, 1, 400.0], ["Ben", 3, 3, 40.0, 3, 300.0]]

    status, _, body = get(kpi_server.url + query, agent["token"])
    assert (status, json.loads(body)["error"]) == (403, "forbidden")
    status, _, body = get(kpi_server.url + query)
    assert (status, json.loads(body)["error"]) == (401, "unauthorized")
    status, _, body = get(kpi_server.url + "/api/admin/kpis?tz=Nowhere/Land", admin["token"])
    assert (status, json.loads(body)["error"]) == (400, "invalid_range")


def test_each_chart_exports_as_csv(kpi_server):
    _, admin = login(kpi_server.url, "aiko", "password-aiko")
    base = kpi_server.url + "/api/admin/kpis.csv?from=2026-03-03&to=2026-03-03&tz=Asia/Tokyo"
    status, headers, body = get(base + "&chart=handoffs_by_trigger_language", admin["token"])
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "crossdesk-handoffs_by_trigger_language-2026-03-03-2026-03-03.csv" in headers["Content-Disposition"]
    assert list(csv.reader(io.StringIO(body.decode()))) == [
        ["trigger", "language", "handoffs"], ["request_human", "ko", "2"], ["delivery_problem", "de", "1"],
        ["fallback", "fr", "1"], ["request_human", "ja", "1"], ["takeover", "en", "1"]]
    status, _, body = get(base + "&chart=nope", admin["token"])
    assert (status, json.loads(body)["error"]) == (400, "invalid_chart")
