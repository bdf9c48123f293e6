"""Entry point for ``rasa run actions --actions actions.server`` (bench only).

The Crossdesk server runs actions in-process; this module exists so plain
``rasa run`` with a separate action server can serve the same model.
"""

from actions.actions import *  # noqa: F401,F403  (rasa_sdk registers Action subclasses)
