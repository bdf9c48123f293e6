"""Rasa's debug-log arguments skipped while its debug logging is off (issue #21, in-process).

``crossdesk.compat_rasa_speed``: the processor's and the RulePolicy's ``copy.deepcopy`` and the
RulePolicy's ``format_tracker_states`` run only for a ``structlogger.debug`` that logs; the
predictions are Rasa's either way, and with debug on the debug line carries what Rasa puts in it.
"""

from __future__ import annotations

import ast
import inspect
import json
import logging
import tarfile

import pytest
import structlog
from rasa.shared.core.domain import Domain

from tests.test_perf_tracker_rows import a_turn


class Recording:
    """A module's ``structlogger`` at a given level that keeps what ``debug`` was given."""

    def __init__(self, level: int):
        self.logger = structlog.wrap_logger(None, wrapper_class=structlog.make_filtering_bound_logger(level)).bind()
        self.level = level
        self.lines: list = []

    def bind(self, **_values):
        return self.logger

    def debug(self, event, **values):
        if self.level <= logging.DEBUG:
            self.lines.append((event, values))

    def __getattr__(self, name):
        return getattr(self.logger, name)


@pytest.fixture(scope="module")
def rule_policy(model_path):
    from rasa.core.policies.rule_policy import RulePolicy

    from crossdesk import compat

    compat.tune_rasa()
    with tarfile.open(model_path) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("train_RulePolicy0/rule_policy.json"))
        lookup = json.load(archive.extractfile(member))["lookup"]
    from rasa.engine.graph import ExecutionContext, GraphSchema

    return RulePolicy(RulePolicy.get_default_config(), None, None, ExecutionContext(GraphSchema({}), "m"),
                      lookup=lookup)


def test_only_debug_arguments_use_copy_in_the_patched_rasa_modules():
    import importlib

    from crossdesk.compat_rasa_speed import DEBUG_ONLY_COPY_MODULES

    for name in DEBUG_ONLY_COPY_MODULES:
        tree = ast.parse(inspect.getsource(importlib.import_module(name)))
        debug_args = {id(node) for call in ast.walk(tree) if isinstance(call, ast.Call)
                      and isinstance(call.func, ast.Attribute) and call.func.attr == "debug"
                      for node in ast.walk(call)}
        uses = [node for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == "copy"]
        assert uses and all(id(node) in debug_args for node in uses), name


def test_debug_is_off_only_for_a_logger_that_filters_debug_out():
    from crossdesk.compat_rasa_speed import debug_is_off

    assert debug_is_off(Recording(logging.WARNING))
    assert not debug_is_off(Recording(logging.DEBUG))
    assert not debug_is_off(structlog.wrap_logger(None, wrapper_class=structlog.BoundLogger))


def test_the_processor_deep_copies_events_for_its_debug_line_only_when_debug_is_on(rule_policy, monkeypatch):
    from rasa.core import processor

    events = list(a_turn("copy").events)
    monkeypatch.setattr(processor.copy, "_structlogger", Recording(logging.WARNING))
    assert processor.copy.deepcopy(events) is events  # (no copy for a discarded line)
    monkeypatch.setattr(processor.copy, "_structlogger", Recording(logging.DEBUG))
    copied = processor.copy.deepcopy(events)
    assert copied == events and copied is not events and copied[3] is not events[3]


@pytest.mark.parametrize("level", [logging.WARNING, logging.DEBUG])
def test_rule_predictions_are_rasas_and_states_are_formatted_only_for_a_logged_line(rule_policy, monkeypatch, level):
    from rasa.core.policies import rule_policy as module
    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy

    from crossdesk.paths import ROOT

    domain = Domain.load(str(ROOT / "bot" / "domain.yml"))
    formatted = []
    real_format = Policy.format_tracker_states
    monkeypatch.setattr(Policy, "format_tracker_states",
                        staticmethod(lambda states: formatted.append(1) or real_format(states)))
    rasas = RulePolicy._find_action_from_rules.__wrapped__
    tracker = a_turn("rules")
    recording = Recording(level)
    monkeypatch.setattr(module, "structlogger", recording)
    for use_text in (True, False):
        for events in (tracker.events, list(tracker.events)[:4], list(tracker.events)[:6]):
            current = type(tracker).from_events("rules", list(events))
            before = len(formatted)
            ours = rule_policy._find_action_from_rules(current, domain, use_text)
            ours_formatted = len(formatted) - before
            assert ours == rasas(rule_policy, current, domain, use_text)
            rasas_formatted = len(formatted) - before - ours_formatted
            assert ours_formatted == (rasas_formatted if level == logging.DEBUG else 0)
    assert len(formatted) == (10 if level == logging.DEBUG else 5)  # (use_text after an action: no search)
    if level == logging.DEBUG:
        states = rule_policy._prediction_states(tracker, domain, False,
                                                rule_only_data=rule_policy._get_rule_only_data())
        assert ("rule_policy.actions.find", {"current_states": real_format(states)}) in recording.lines
    else:
        assert recording.lines == []
