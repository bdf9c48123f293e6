"""Admin-only KPI API: ``GET /api/admin/kpis`` (JSON) and ``GET /api/admin/kpis.csv?chart=...``."""

from __future__ import annotations

import asyncio
import time

from sanic import Sanic, response

from handoff import kpis
from handoff.api import error_response
from handoff.console_api import admin_required



async def _report(request) -> dict:
    """The KPIs for the request's window (ValueError on bad parameters), computed off the event loop."""
    window = kpis.parse_window(request.args)
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    report = await loop.run_in_executor(None, kpis.compute, request.app.ctx.store.engine, window)
    report["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return report


def setup_kpis(app: Sanic) -> None:
    """Register the KPI routes."""

    @app.get("/api/admin/kpis")
    @admin_required
    async def kpi_report(request):
        try:
            return response.json(await _report(request))
        except ValueError as error:
            return error_response(400, "invalid_range", str(error))

    @app.get("/api/admin/kpis.csv")
    @admin_required
    async def kpi_csv(request):
        name = request.args.get("chart") or ""
        try:
            report = await _report(request)
        except ValueError as error:
            return error_response(400, "invalid_range", str(error))
        chart = next((c for c in report["charts"] if c["id"] == name), None)
        if chart is None:
            known = ", ".join(c["id"] for c in report["charts"])
            return error_response(400, "invalid_chart", f"'chart' must be one of {known}")
        filename = f"crossdesk-{name}-{report['from']}-{report['to']}.csv"
        return response.text(kpis.chart_csv(chart), content_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
