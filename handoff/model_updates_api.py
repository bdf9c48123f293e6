"""The studio's training and model API (content staff and admins): train, follow, list, roll back.

``POST /api/studio/training`` → 202 ``{"job"}`` (409 ``training_running``), ``GET /api/studio/training``
→ ``{"job"}`` (the latest, or null), ``GET /api/studio/models`` → ``{"models"}``,
``POST /api/studio/models/<name>/activate`` → ``{"ok", "model"}`` (404 ``unknown_model``).
"""

from __future__ import annotations

import asyncio
import contextlib

from sanic import Sanic, response

from handoff.api import error_response
from handoff.console_api import studio_required
from handoff.model_updates import ModelUpdates, TrainingRunning, UnknownModel


def setup_model_updates(app: Sanic, updates: ModelUpdates) -> None:
    """Routes, and the watcher that follows ``var/models/LIVE`` while the server runs."""
    app.ctx.model_updates = updates

    @app.post("/api/studio/training")
    @studio_required
    async def start_training(request):
        try:
            job = updates.start_training()
        except TrainingRunning:
            return error_response(409, "training_running", "a training is already running; wait for it to finish")
        return response.json({"job": job.to_json()}, status=202)

    @app.get("/api/studio/training")
    @studio_required
    async def training_status(request):
        return response.json({"job": updates.job.to_json() if updates.job else None})

    @app.get("/api/studio/models")
    @studio_required
    async def models(request):
        return response.json({"models": updates.models()})

    @app.post("/api/studio/models/<name>/activate")
    @studio_required
    async def activate(request, name: str):
        try:
            await updates.activate(name)
        except UnknownModel:
            return error_response(404, "unknown_model", f"no kept model named {name}")
        return response.json({"ok": True, "model": name})

    @app.listener("after_server_start")
    async def watch(app, loop):
        app.ctx.live_pointer_watch = loop.create_task(updates.watch_live_pointer())

    @app.listener("before_server_stop")
    async def stop_watching(app, loop):
        task = getattr(app.ctx, "live_pointer_watch", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
