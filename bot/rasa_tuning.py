"""Targeted fixes for Rasa 3.6.21 hot spots (pinned version; see docs/pipeline.md).

Only *how* Rasa does its work changes here, never *what* it does.
"""

from __future__ import annotations

import functools

_applied = False


def cache_action_result_validator() -> None:
    """Validate custom-action results with a compiled JSON-schema validator.

    ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``,
    which re-checks the (constant) schema against its meta-schema on every
    call: 69 ms per custom action here. The compiled validator checks the
    same schema once and validates each result in ~0.1 ms, raising the same
    ``ValidationError`` with the same message.
    """
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    @functools.lru_cache(maxsize=1)
    def validator():
        schema = RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)

    def _validate_action_result(self, result):
        try:
            validator().validate(result)
            return True
        except ValidationError as error:
            error.message += (
                ". Failed to validate Action server response from API, make sure your "
                "response from the Action endpoint is valid. For more information about "
                f"the format visit {DOCS_BASE_URL}/custom-actions"
            )
            raise error

    RemoteAction._validate_action_result = _validate_action_result


def cache_event_types() -> None:
    """Look event classes up by name once, not by walking every subclass per event.

    ``Event.resolve_by_type`` walks all ``Event`` subclasses (30+) for each
    event it deserialises; a tracker of 80 events costs 9 ms to rebuild. The
    cache keeps exactly the class the original lookup returned; unknown names
    still go through the original (same errors, same defaults).
    """
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    found: dict = {}

    def resolve_by_type(type_name, default=None):
        cls = found.get(type_name)
        if cls is not None:
            return cls
        cls = original(type_name, default)
        if cls is not None and cls is not default:
            found[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)


def apply() -> None:
    """Apply every tuning once."""
    global _applied
    if not _applied:
        cache_action_result_validator()
        cache_event_types()
        _applied = True
