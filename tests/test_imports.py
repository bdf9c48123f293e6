"""The layering of the packages, read from the source with ``ast`` (nothing is imported).

Dependencies point one way: ``handoff`` (the server) -> ``bot`` and ``actions`` -> ``crossdesk``
(what the whole product shares). ``bench`` and ``tests`` may use ``harness`` and the product, never
each other. Every override of a third-party private name lives in ``crossdesk/compat.py``.
See docs/architecture.md.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from crossdesk.paths import ROOT

PACKAGES = ("crossdesk", "bot", "actions", "handoff", "harness", "bench", "tests")
PRODUCT = ("crossdesk", "bot", "actions", "handoff")
MAY_IMPORT = {
    "crossdesk": set(),
    "bot": {"crossdesk"},
    "actions": {"crossdesk"},
    "handoff": {"crossdesk", "bot", "actions"},
    "harness": {"crossdesk"},
    "bench": {"crossdesk", "bot", "actions", "handoff", "harness"},
    "tests": {"crossdesk", "bot", "actions", "handoff", "harness"},
}
"""Which of our packages each package may import (itself always)."""

# Private names of pinned libraries that Crossdesk overrides or calls: only crossdesk/compat.py may.
# (bot/components.py and bot/intent_classifier.py are training inputs and keep their own: see compat.)
PRIVATE_NAMES = {
    "_handle_event", "_handle_event_internal", "_handle_eio_message", "_engineio_server_class",
    "_send_packet", "_binary_packet", "_get_supported_languages", "_run_prediction_loop",
    "_additional_events", "_validate_action_result", "_setup_connection", "_waiters",
}
ROOM_METHODS = {"enter_room", "leave_room"}


def module_name(path: Path) -> str:
    """``bot/engine.py`` -> ``bot.engine``; ``bot/__init__.py`` -> ``bot``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(packages=PACKAGES) -> dict[str, Path]:
    """Every module of ``packages`` by dotted name."""
    found = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "node_modules" not in path.parts:
                found[module_name(path)] = path
    return found


def imported_modules(name: str, path: Path) -> set[str]:
    """The dotted names ``path`` imports, anywhere in the file (function-level imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package upwards
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            found.add(stem)
            found.update(f"{stem}.{alias.name}" for alias in node.names)
    return found


def our_imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (a ``from x import y`` counts as x.y when x.y is a module)."""
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_modules(name, path):
            if imported.split(".")[0] not in PACKAGES:
                continue
            while imported and imported not in modules:  # "bot.engine.BotEngine" -> "bot.engine"
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Top-level package -> the other top-level packages its modules import."""
    packages = defaultdict(set)
    for name, targets in graph.items():
        top = name.split(".")[0]
        packages[top].update(t.split(".")[0] for t in targets if t.split(".")[0] != top)
    return dict(packages)


GRAPH = our_imports(sources())


def forbidden_imports(graph: dict[str, set[str]]) -> list[str]:
    """``module -> imported`` for each import a package may not make."""
    return sorted(f"{name} -> {target}" for name, targets in graph.items() for target in targets
                  if target.split(".")[0] != name.split(".")[0]
                  and target.split(".")[0] not in MAY_IMPORT[name.split(".")[0]])


def test_crossdesk_imports_nothing_of_ours():
    assert [line for line in forbidden_imports(GRAPH) if line.startswith("crossdesk")] == []


def test_the_bot_and_the_actions_import_only_crossdesk():
    offending = [line for line in forbidden_imports(GRAPH) if line.split(".")[0] in ("bot", "actions")]
    assert offending == [], "the bot and the actions import only crossdesk/ (the app wires them together)"


def test_every_package_imports_only_the_packages_below_it():
    assert forbidden_imports(GRAPH) == []


def test_bench_and_tests_never_import_each_other():
    between = [line for line in forbidden_imports(GRAPH)
               if {line.split(".")[0], line.split(" -> ")[1].split(".")[0]} == {"bench", "tests"}]
    assert between == [], "shared helpers live in harness/"


def test_no_cycle_between_top_level_packages():
    assert cycles(package_graph(GRAPH)) == []


def test_no_cycle_inside_bench():
    bench = {name: {t for t in targets if t.split(".")[0] == "bench"}
             for name, targets in GRAPH.items() if name.split(".")[0] == "bench"}
    assert cycles(bench) == [], "bench/ modules share helpers through bench/common.py"


def private_overrides(modules: dict[str, Path]) -> list[str]:
    """Where a module other than crossdesk.compat defines, reads or calls a third-party private name."""
    found = []
    for name, path in modules.items():
        if name in ("crossdesk.compat", "crossdesk.compat_rasa_speed"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in PRIVATE_NAMES:
                found.append(f"{name}: def {node.name}")
            elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_NAMES:
                found.append(f"{name}: .{node.attr}")
    return sorted(found)


def bare_room_calls(modules: dict[str, Path]) -> list[str]:
    """Where ``enter_room``/``leave_room`` is called directly instead of through ``compat.room_call``."""
    found = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ROOM_METHODS and name != "crossdesk.compat"):
                found.append(f"{name}:{node.lineno} {node.func.attr}(...)")
    return sorted(found)


def test_only_crossdesk_compat_overrides_third_party_private_names():
    assert private_overrides(sources(PRODUCT + ("harness", "bench"))) == []


def test_rooms_are_entered_and_left_through_room_call():
    assert bare_room_calls(sources(PRODUCT + ("harness", "bench"))) == [], (
        "python-socketio >= 5.10 makes enter_room/leave_room coroutines: call them via compat.room_call")


def test_the_checks_see_a_cycle_and_a_forbidden_import():
    assert cycles({"bench.a": {"bench.b"}, "bench.b": {"bench.c"}, "bench.c": {"bench.a"}}) == [
        ["bench.a", "bench.b", "bench.c"]]
    assert forbidden_imports({"bot.engine": {"actions.inprocess", "crossdesk.compat"}}) == [
        "bot.engine -> actions.inprocess"]
