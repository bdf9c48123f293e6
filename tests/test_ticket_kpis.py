"""Ticket KPIs (#18) over the known history of ``tests/kpi_history.py``, on SQLite and PostgreSQL, and over HTTP."""

from __future__ import annotations

import csv
import io

from handoff import kpis
from tests.kpi_history import T0
from tests.support import login
from tests.test_kpis import TOKYO_DAY, charts, get, kpi_server, store, tokyo  # noqa: F401 (fixtures)


def test_tickets_opened_solved_and_overdue_against_the_promise_by_language(tokyo):  # noqa: F811
    # opened: c1, c3, c4, c5 (c6's was opened the evening before); solved in the day: c3, c4, c6;
    # due in the day: c3 (solved in time), c5 (open), c6 (solved late): 2 overdue, promise kept 1 of 3.
    assert tokyo["tickets"] == [
        ["(all)", 4, 3, 2, 33.3], ["de", 1, 0, 1, 0.0], ["en", 1, 1, 1, 0.0], ["fr", 1, 1, 0, None],
        ["ja", 1, 1, 0, 100.0]]


def test_a_ticket_not_yet_due_is_not_overdue(store):  # noqa: F811
    # Seen from just after c5's was opened: nothing had come due yet.
    window = kpis.parse_window(TOKYO_DAY)
    with store.engine.connect() as conn:
        [chart] = kpis.ticket_figures(conn, window, now=T0 + 18200)
    assert chart.rows[0] == ["(all)", 4, 3, 0, None]


def test_ticket_figures_are_in_the_report_and_its_csv(kpi_server):  # noqa: F811
    _, admin = login(kpi_server.url, "aiko", "password-aiko")
    base = kpi_server.url + "/api/admin/kpis.csv?from=2026-03-03&to=2026-03-03&tz=Asia/Tokyo"
    status, _, body = get(base + "&chart=tickets", admin["token"])
    assert status == 200
    assert list(csv.reader(io.StringIO(body.decode()))) == [
        ["language", "opened", "solved", "overdue", "kept_pct"], ["(all)", "4", "3", "2", "33.3"],
        ["de", "1", "0", "1", "0.0"], ["en", "1", "1", "1", "0.0"], ["fr", "1", "1", "0", ""],
        ["ja", "1", "1", "0", "100.0"]]
