"""Cold start (issue #21), session 11: JWT and RabbitMQ clients that Rasa and python-socketio import at start
run only when used (``crossdesk/compat_cold_start.py``), and then work as before."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT

ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}

START_THEN_USE = """
import asyncio, sys
from crossdesk.compat import stdlib_distutils
from crossdesk.compat_cold_start import lazy_unused_clients
stdlib_distutils()
installed = lazy_unused_clients()
import handoff.app
from crossdesk import compat
compat.lazy_rasa_channels(); compat.lazy_rasa_modules()
with compat.tensorflow_avoided(), compat.rasa_store_clients_deferred():
    import rasa.core.agent
from rasa.core.brokers.broker import EventBroker
from rasa.core.channels.channel import decode_bearer_token
heavy = ("cryptography.x509", "jwt.algorithms", "aio_pika.robust_connection", "aiormq.exceptions", "pamqp")
at_start = [name for name in heavy if name in sys.modules]
import jwt
token = jwt.encode({"user": "nora"}, "secret", algorithm="HS256")
decoded = decode_bearer_token("Bearer " + token, "secret", "HS256")
refused = decode_bearer_token("Bearer " + token, "other secret", "HS256")
import socketio
manager = socketio.AsyncAioPikaManager("amqp://guest:guest@127.0.0.1:1//")  # (needs aio_pika: raises without it)
class Unreachable:  # an event broker whose connection fails: Rasa's error types come from aiormq and aio_pika
    type = "pika"; url = "127.0.0.1"; kwargs = {"port": 1, "username": "u", "password": "p", "queues": ["q"],
                                                  "raise_on_failure": True, "connection_attempts": 1, "retry_delay_in_seconds": 0}
async def broker():
    try:
        await EventBroker.create(Unreachable())
    except Exception as error:
        return type(error).__name__
print(installed, at_start, decoded, refused, type(manager).__name__, asyncio.run(broker()),
      all(name in sys.modules for name in heavy[:2]))
"""


def test_unused_clients_load_on_first_use_and_behave_as_before():
    done = subprocess.run([sys.executable, "-c", START_THEN_USE], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == (
        "True [] {'user': 'nora'} None AsyncAioPikaManager ConnectionException True")
