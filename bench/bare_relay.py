"""A bare python-socketio relay on Sanic (the baseline for the handoff relay).

Shoppers emit ``msg {room, text}`` on ``/``; agents on ``/agent`` ``join`` rooms
and receive ``relay``. No storage, no bot, no validation: the floor cost of
the same stack. ``python -m bench.bare_relay PORT``
"""

import sys

import socketio
from sanic import Sanic

from crossdesk.compat import room_call

sio = socketio.AsyncServer(async_mode="sanic", cors_allowed_origins="*")
app = Sanic("bare_relay")
sio.attach(app)


@sio.on("msg")
async def message(sid, data):
    await sio.emit("relay", data, room=data["room"], namespace="/agent")
    return {"ok": True}


@sio.on("join", namespace="/agent")
async def join(sid, data):
    for room in data["rooms"]:
        await room_call(sio.enter_room, sid, room, namespace="/agent")
    return {"ok": True}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, motd=False)
