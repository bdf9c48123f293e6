"""The console's strings in all eight languages: every language has every English key with the same
{placeholders} (in-process, Node evaluates the real tables), and the browser language picks the right one.

When a module gains English keys (console.js, notes.js, tickets.js, dashboard.js, team.js), the failure names each
language and key still to translate in handoff/console/i18n.js (Japanese: in the module's own table).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.support import ROOT

CONSOLE = ROOT / "handoff" / "console"
MODULES = {"console": "console.js", "notes": "notes.js", "tickets": "tickets.js", "dashboard": "dashboard.js", "team": "team.js"}
LANGUAGES = ["en", "ja", "zh-CN", "zh-TW", "ko", "fr", "de", "es"]
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="no node")

# Evaluates each module's own `const I18N = {...};` literal (data only) and lets i18n.js extend it, as the
# browser does; prints {module: {language: {key: text}}} and the picker's choices for some browser settings.
SCRIPT = r"""
const fs = require("fs"), vm = require("vm"), path = require("path");
const [dir, modules, asked] = [process.argv[1], JSON.parse(process.argv[2]), JSON.parse(process.argv[3])];
const sandbox = { window: {} };
vm.runInNewContext(fs.readFileSync(path.join(dir, "i18n.js"), "utf8"), sandbox);
const i18n = sandbox.window.CrossdeskI18n;
const tables = {};
for (const [part, file] of Object.entries(modules)) {
  const source = fs.readFileSync(path.join(dir, file), "utf8");
  const match = source.match(/\n  const I18N = (\{[\s\S]*?\n  \});\n/);
  if (!match) throw new Error("no I18N table in " + file);
  tables[part] = i18n.extend(vm.runInNewContext("(" + match[1] + ")"), part);
}
const picked = asked.map((wanted) => i18n.pick(wanted));
console.log(JSON.stringify({ tables, picked, languages: i18n.languages }));
"""


def evaluate(asked: list[list[str]] | None = None) -> dict:
    """The merged tables, the picker's answers for ``asked`` and the declared languages."""
    done = subprocess.run([NODE, "-e", SCRIPT, str(CONSOLE), json.dumps(MODULES), json.dumps(asked or [])],
                          capture_output=True, text=True, timeout=30, check=True)
    return json.loads(done.stdout)


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


@pytest.fixture(scope="module")
def tables() -> dict:
    return evaluate()["tables"]


def test_every_language_has_every_english_key_with_the_same_placeholders(tables):
    problems = []
    for part, table in tables.items():
        english = table["en"]
        for language in LANGUAGES:
            strings = table.get(language)
            if strings is None:
                problems.append(f"{part}: no {language} table")
                continue
            for key, text in english.items():
                if not isinstance(strings.get(key), str) or not strings[key].strip():
                    problems.append(f"{part}.{language}.{key}: missing (English: {text!r})")
                elif placeholders(strings[key]) != placeholders(text):
                    problems.append(f"{part}.{language}.{key}: placeholders {sorted(placeholders(strings[key]))}"
                                    f" but English has {sorted(placeholders(text))}")
            problems += [f"{part}.{language}.{key}: not an English key" for key in strings.keys() - english.keys()]
    assert not problems, "\n".join(problems)


def test_translations_are_translated_not_english_copies(tables):
    """A long English sentence copied into another language is a forgotten translation."""
    copies = [f"{part}.{language}.{key}" for part, table in tables.items() for language in LANGUAGES[1:]
              for key, text in table["en"].items()
              if len(text) > 24 and table.get(language, {}).get(key) == text]
    assert not copies, copies


def test_the_browser_language_chooses_the_console_language():
    asked = [["ko-KR", "en"], ["zh-TW"], ["zh-HK"], ["zh-Hant-SG"], ["zh"], ["zh-CN"], ["pt-BR", "de-AT", "en"],
             ["pt-PT"], [], ["fr-CA"], ["es-419"], ["ja"]]
    result = evaluate(asked)
    assert result["picked"] == ["ko", "zh-TW", "zh-TW", "zh-TW", "zh-CN", "zh-CN", "de", "en", "en", "fr", "es", "ja"]
    assert [code for code, _ in result["languages"]] == LANGUAGES


def test_the_picker_offers_every_language_by_its_own_name():
    html = (CONSOLE / "index.html").read_text(encoding="utf-8")
    picker = re.search(r'<select id="ui-language".*?</select>', html, re.S).group(0)
    options = re.findall(r'<option value="([^"]+)" lang="([^"]+)">([^<]+)</option>', picker)
    names = dict(evaluate()["languages"])
    assert [(value, name) for value, _, name in options] == [(code, names[code]) for code in LANGUAGES]
    assert all(value == lang for value, lang, _ in options)
    assert html.index("/console/static/i18n.js") < html.index("/console/static/dashboard.js")
