"""What the whole product shares: paths, languages, store facts, words, and the compatibility layer.

The layering rule (enforced by ``tests/test_imports.py``, which reads the source with ``ast``):

* ``crossdesk`` imports nothing of ours;
* ``bot`` and ``actions`` import only ``crossdesk`` (the bot never imports the server or the
  actions: the app passes the action executor in);
* ``handoff`` (the server) may import ``bot``, ``actions`` and ``crossdesk``.

Server settings (env vars ``CROSSDESK_*``) live in ``handoff/settings.py``; the bot and the
actions get what they need from them as arguments, wired by the app.
"""
