"""Rasa's debug-log arguments not built when Rasa's debug logging is off (rasa 3.6.21, structlog 23.3).

Part of :mod:`crossdesk.compat` (which imports and applies it from ``tune_rasa``; the version
check there covers it), split out because compat passed ~1,200 lines. Same rule: it imports
nothing of Crossdesk and the libraries only inside the functions that patch them.

Rasa's processor and RulePolicy compute the arguments of their ``structlogger.debug`` calls at
any log level: ``copy.deepcopy`` of the events of every action (events with their whole parse
data), of the slots' text, of the parse's entities, and the RulePolicy formats all states of the
session (``format_tracker_states``) once per rule search, twice per shopper message, to hand
them to a ``debug`` that our level (``bot.engine.configure_rasa_logging``: WARNING) makes a
no-op. With debug off these arguments are never looked at, so skipping them changes nothing;
with debug on (or any logger we do not recognise as filtering debug out) Rasa's own code runs.
"""

from __future__ import annotations

import logging
import threading
from typing import Any


def debug_is_off(structlogger: Any) -> bool:
    """Whether ``structlogger.debug`` (a module's ``structlog.get_logger()``) discards everything.

    Rasa configures structlog with ``make_filtering_bound_logger(level)``, whose methods below
    the level are one shared no-op; any other logger class counts as debug on.
    """
    import structlog

    nop = structlog.make_filtering_bound_logger(logging.CRITICAL).debug
    return getattr(type(structlogger.bind()), "debug", None) is nop


class _DebugOnlyCopy:
    """Stands in for the ``copy`` module in Rasa modules whose every ``copy.`` use is a debug argument."""

    def __init__(self, structlogger: Any):
        import copy

        self._copy = copy
        self._structlogger = structlogger

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if debug_is_off(self._structlogger):
            return value  # (goes only to a debug call that discards it)
        return self._copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._copy, name)


# Rasa modules (3.6.21) in which ``copy`` is used only for ``structlogger.debug`` arguments
# (tests/test_perf_debug_args.py checks each module's source for that).
DEBUG_ONLY_COPY_MODULES = ("rasa.core.processor", "rasa.core.policies.rule_policy")


def skip_debug_copies(modules: tuple = DEBUG_ONLY_COPY_MODULES) -> None:
    """Replace ``copy`` in those modules by :class:`_DebugOnlyCopy` (deep copies only when debug is on).

    ``copy.deepcopy(events)`` in ``MessageProcessor._run_action`` copies every event an action
    returns, with the whole parse data of user events, for the ``processor.actions.log`` line.
    """
    import importlib

    for name in modules:
        module = importlib.import_module(name)
        if not isinstance(module.copy, _DebugOnlyCopy):
            module.copy = _DebugOnlyCopy(module.structlogger)


def skip_debug_state_formatting() -> None:
    """Format the RulePolicy's states for its debug line only when debug is on.

    ``RulePolicy._find_action_from_rules`` (private, wrapped here) calls
    ``format_tracker_states`` once, for its ``rule_policy.actions.find`` debug line only: a
    string line per state of the session, twice per shopper message. While that method runs
    with debug off, ``RulePolicy.format_tracker_states`` returns ``""`` (which the no-op
    ``debug`` discards); everywhere else, and with debug on, it is Rasa's.
    """
    from rasa.core.policies import rule_policy
    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy

    if getattr(RulePolicy._find_action_from_rules, "__wrapped__", None) is not None:
        return
    finding = threading.local()
    original = RulePolicy._find_action_from_rules

    def _find_action_from_rules(self, tracker, domain, use_text_for_last_user_input):
        finding.quiet = debug_is_off(rule_policy.structlogger)
        try:
            return original(self, tracker, domain, use_text_for_last_user_input)
        finally:
            finding.quiet = False

    def format_tracker_states(states):
        if getattr(finding, "quiet", False):
            return ""  # (only for the discarded debug line of _find_action_from_rules)
        return Policy.format_tracker_states(states)

    _find_action_from_rules.__wrapped__ = original  # (what the tests compare with)
    RulePolicy._find_action_from_rules = _find_action_from_rules
    RulePolicy.format_tracker_states = staticmethod(format_tracker_states)


def skip_debug_arguments() -> None:
    """Apply both patches above."""
    skip_debug_copies()
    skip_debug_state_formatting()
