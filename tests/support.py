"""Test helpers: real server processes and Socket.IO clients (from ``harness``), Chromium settings."""

from __future__ import annotations

import os

from harness.clients import AgentClient, RecordingClient, Shopper
from harness.processes import ROOT, ServerProcess, add_agent, free_port, login

__all__ = ["AgentClient", "CHROMIUM", "CHROMIUM_ARGS", "ROOT", "RecordingClient", "ServerProcess", "Shopper",
           "add_agent", "free_port", "login"]

CHROMIUM = os.environ.get("CROSSDESK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
