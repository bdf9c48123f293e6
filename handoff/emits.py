"""python-socketio's client managers with ``emit_each``: several emits (event, data, room) as one.

A bot message goes to two rooms of the shopper namespace, one per protocol shape
(``handoff.delivery``). Scaled out, python-socketio's Redis manager publishes every emit
(pickled) and every process unpickles and handles each: two publishes per bot message were
~9 % of a scaled-out server's GIL samples (py-spy --gil, 50 shoppers). ``RedisEmits`` sends
a message's emits as one publish, whose receivers emit each to their own sockets; alone,
``LocalEmits`` emits them one after the other, as before.
"""

from __future__ import annotations

from socketio import AsyncManager, AsyncRedisManager

Emit = tuple  # (event, data, room)


class LocalEmits(AsyncManager):
    """The in-memory manager (one process)."""

    async def emit_each(self, emits: list[Emit], namespace: str) -> None:
        """Emit each ``(event, data, room)`` to this process's sockets, in order."""
        for event, data, room in emits:
            await self.emit(event, data, namespace, room=room)


class RedisEmits(AsyncRedisManager):
    """The Redis manager (several processes)."""

    async def emit_each(self, emits: list[Emit], namespace: str) -> None:
        """Emit each ``(event, data, room)`` to the sockets of every process, in order, by one publish.

        The message is python-socketio's own ``emit`` message for the first, with the others under
        ``more``: a process of an earlier release still delivers the first.
        """
        (event, data, room), *more = emits
        await self._publish({"method": "emit", "event": event, "data": data, "namespace": namespace, "room": room,
                             "skip_sid": None, "callback": None, "host_id": self.host_id, "more": more})

    async def _handle_emit(self, message: dict) -> None:
        await super()._handle_emit(message)
        for event, data, room in message.get("more") or ():
            await AsyncManager.emit(self, event, data, message.get("namespace"), room=room)
