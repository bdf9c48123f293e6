"""Upgrades keep data: a database made by the previous release upgrades in place.

On SQLite and on a real PostgreSQL server (``tests/services.py``). The
previous release's databases are ``tests/data/release-151fffb*.sql``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest
from sqlalchemy import Column, Integer, MetaData, create_engine, text
from sqlalchemy import inspect as sa_inspect

from handoff.store import SQLStore
from handoff.store import migrate
from handoff.store.agents import AgentStore
from handoff.store.sql import metadata
from tests.support import ROOT, ServerProcess, Shopper, login

DATA = ROOT / "tests" / "data"
LEGACY_TOKEN = "legacy-token-0123456789abcdefghij"
LEGACY_TRANSCRIPT = [
    ("shopper", "ドイツへの配送はどのくらいかかりますか？"),
    ("bot", "ドイツへは通常5〜7営業日でお届けします。"),
    ("shopper", "担当者と話したいです 🙏"),
    ("bot", "担当者におつなぎします。少々お待ちください。"),
    ("system", "Yuki 佐藤 joined"),
    ("agent", "こんにちは、Yukiです。ご注文番号を教えていただけますか？"),
    ("shopper", "注文番号は A-10023 です。Grüße, Zoë ✨"),
]
TABLES = ("conversations", "messages", "transitions", "agents", "agent_tokens")


def load_sqlite_release(path) -> str:
    """The previous release's SQLite database at ``path``; returns its URL."""
    connection = sqlite3.connect(path)
    connection.executescript((DATA / "release-151fffb.sql").read_text(encoding="utf-8"))
    connection.close()
    return f"sqlite:///{path}"


def row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            return {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() for table in TABLES}
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def empty_url(kind, request, tmp_path) -> str:
    """An empty database of each kind."""
    if kind == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path}/crossdesk.db"


@pytest.fixture
def legacy_url(kind, request, tmp_path) -> str:
    """A database made by release 151fffb (before migrations), of each kind."""
    if kind == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        url = request.getfixturevalue("postgres_url")
        cluster.execute_script(url, (DATA / "release-151fffb.postgresql.sql").read_text(encoding="utf-8"))
        return url
    return load_sqlite_release(tmp_path / "crossdesk.db")


def test_a_previous_release_database_upgrades_in_place_with_every_row_readable(legacy_url):
    before = row_counts(legacy_url)
    assert before == {"conversations": 2, "messages": 9, "transitions": 5, "agents": 2, "agent_tokens": 1}
    store = SQLStore(legacy_url)
    try:
        assert row_counts(legacy_url) == before
        with store.engine.connect() as conn:
            assert migrate.read_revision(conn) == migrate.head_revision()
        conversation = store.get_conversation("legacy-session-0001")
        assert (conversation.state, conversation.language, conversation.locale) == ("resolved", "ja", "ja-JP")
        assert conversation.context["title"] == "ウールのコート" and conversation.handoff_reason == "request_human"
        transcript = store.transcript("legacy-session-0001")
        assert [(m.sender, m.text) for m in transcript] == LEGACY_TRANSCRIPT
        assert transcript[0].data["intent"] == "shipping_time" and transcript[0].client_id == "m-1"
        assert transcript[5].data["original"].startswith("Hello, this is Yuki")
        assert [(t["from_state"], t["to_state"], t["reason"]) for t in store.transitions("legacy-session-0001")] == [
            (None, "bot", "session_start"), ("bot", "waiting", "request_human"),
            ("waiting", "with_agent", "claimed"), ("with_agent", "resolved", "solved")]
        assert [s["conversation_id"] for s in store.search(text="Zoë", outcome="solved")] == ["legacy-session-0001"]
        assert [m.text for m in store.transcript("legacy-session-0002")][0] == "Quels moyens de paiement acceptez-vous ?"
        # The agents can still log in, and the token issued before the upgrade still works.
        agents = AgentStore(store)
        yuki = agents.authenticate("yuki", "correct horse battery")
        assert yuki is not None and (yuki.display_name, yuki.languages, yuki.role) == ("Yuki 佐藤", ["ja", "en"], "admin")
        assert agents.authenticate("yuki", "wrong password") is None
        assert agents.agent_for_token(LEGACY_TOKEN).username == "yuki"
        # New rows continue after the old ones (ids and sequences carried over).
        stored, created = store.add_message("legacy-session-0001", "shopper", "また質問です", "ja", client_id="m-4")
        assert created and stored.id == 10
        repeated, created = store.add_message("legacy-session-0001", "shopper", "again", client_id="m-1")
        assert not created and repeated.text == LEGACY_TRANSCRIPT[0][1]  # the old unique constraint holds
        assert agents.add("kenji", "a new password", ["ja"]).id == 3
    finally:
        store.close()
    reopened = SQLStore(legacy_url)  # a second start finds it at the newest revision and changes nothing
    assert len(reopened.transcript("legacy-session-0001")) == 8
    reopened.close()


def not_sqlite_internal(name, kind, _parent) -> bool:
    """Leave SQLite's own tables (``sqlite_sequence``, made for the tickets' AUTOINCREMENT) out of comparisons."""
    return not (kind == "table" and name.startswith("sqlite_"))


def test_an_empty_database_upgraded_to_the_newest_revision_matches_the_models(empty_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    SQLStore(empty_url).close()
    engine = create_engine(empty_url, future=True)
    try:
        with engine.connect() as conn:
            # A model change (handoff/store/sql.py) without a migration shows up here.
            options = {"compare_type": True, "include_name": not_sqlite_internal}
            assert compare_metadata(MigrationContext.configure(conn, opts=options), metadata) == []
    finally:
        engine.dispose()


def test_the_model_comparison_sees_a_column_that_no_migration_adds(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    url = f"sqlite:///{tmp_path}/crossdesk.db"
    SQLStore(url).close()
    changed = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["conversations"].append_column(Column("priority", Integer))
    engine = create_engine(url, future=True)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": not_sqlite_internal}), changed)
    engine.dispose()
    assert [(d[0], d[2], d[3].name) for d in diff] == [("add_column", "conversations", "priority")]


def test_a_database_from_a_newer_release_is_refused_with_a_clear_message(empty_url):
    SQLStore(empty_url).close()
    engine = create_engine(empty_url, future=True)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0042_from_the_future'"))
    engine.dispose()
    with pytest.raises(migrate.SchemaError, match="'0042_from_the_future', newer than this Crossdesk"):
        SQLStore(empty_url)


def test_a_database_with_only_some_crossdesk_tables_is_refused(tmp_path):
    connection = sqlite3.connect(tmp_path / "odd.db")
    connection.execute("CREATE TABLE conversations (id VARCHAR(64) PRIMARY KEY)")
    connection.close()
    with pytest.raises(migrate.SchemaError, match=r"but not \['agent_tokens', 'agents', 'messages', 'transitions'\]"):
        SQLStore(f"sqlite:///{tmp_path}/odd.db")


def test_processes_starting_together_upgrade_the_database_once(empty_url):
    start_at = time.time() + 4  # every process imports first, then all open the store at once
    script = ("import sys, time; from handoff.store import SQLStore; "
              f"time.sleep(max(0, {start_at} - time.time())); SQLStore(sys.argv[1]).close()")
    processes = [subprocess.Popen([sys.executable, "-c", script, empty_url], cwd=ROOT, stderr=subprocess.PIPE,
                                  text=True) for _ in range(4)]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    engine = create_engine(empty_url, future=True)
    with engine.connect() as conn:
        assert [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))] == [
            migrate.head_revision()]
    engine.dispose()


def test_revision_ids_are_their_file_names_and_form_one_line():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    assert script.get_heads() == [migrate.head_revision()]
    revisions = list(reversed(list(script.walk_revisions())))
    assert [r.revision for r in revisions] == migrate.known_revisions()
    assert revisions[0].revision == migrate.BASELINE and revisions[0].down_revision is None
    for older, newer in zip(revisions, revisions[1:]):
        assert newer.down_revision == older.revision
    assert all(os.path.basename(r.path) == f"{r.revision}.py" for r in revisions)
    assert all(len(r.revision) <= migrate.MAX_REVISION_CHARS for r in revisions)  # fits alembic_version


def test_db_commands_show_and_upgrade_a_previous_release_database(tmp_path):
    load_sqlite_release(tmp_path / "crossdesk.db")
    env = {**os.environ, "CROSSDESK_VAR_DIR": str(tmp_path)}

    def db(*args):
        return subprocess.run([sys.executable, "-m", "handoff", "db", *args], cwd=ROOT, env=env, text=True,
                               capture_output=True, timeout=120)

    assert "made before migrations" in db("current").stdout
    upgraded = db("upgrade")
    assert upgraded.returncode == 0 and upgraded.stdout.strip() == (
        f"database at {migrate.head_revision()} (newest), was made before migrations")
    assert db("current").stdout.strip() == f"{migrate.head_revision()} (newest)"
    assert db("upgrade").stdout.strip() == f"database at {migrate.head_revision()} (newest)"
    assert row_counts(f"sqlite:///{tmp_path}/crossdesk.db")["messages"] == 9


async def test_the_server_on_a_previous_release_database_resumes_the_old_conversation(model_path, tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    load_sqlite_release(var_dir / "crossdesk.db")
    server = ServerProcess(var_dir, model_path).start()
    try:
        engine = create_engine(f"sqlite:///{var_dir / 'crossdesk.db'}", future=True)
        with engine.connect() as conn:
            assert migrate.read_revision(conn) == migrate.head_revision()  # upgraded by the server's start
        engine.dispose()
        status, body = login(server.url, "yuki", "correct horse battery")
        assert status == 200 and body.get("token"), body
        shopper = Shopper(server.url)
        assert await shopper.connect(session_id="legacy-session-0001") == "legacy-session-0001"
        _, history = await shopper.expect("crossdesk:history")
        assert [(m["sender"], m["text"]) for m in history["messages"]] == LEGACY_TRANSCRIPT
        await shopper.close()
        # The other old conversation is still with the bot: it goes on where it stopped.
        shopper = Shopper(server.url)
        await shopper.connect(session_id="legacy-session-0002")
        _, history = await shopper.expect("crossdesk:history")
        assert [m["text"] for m in history["messages"]][0] == "Quels moyens de paiement acceptez-vous ?"
        ack = await shopper.say("Combien coûte la livraison en Allemagne ?")
        assert ack["ok"] and ack["id"] == 10  # after the old rows
        _, reply = await shopper.expect("bot_uttered")
        assert reply["text"]
        await shopper.close()
    finally:
        server.stop()


def test_a_failing_migration_leaves_the_database_as_it_was(legacy_url, tmp_path, monkeypatch):
    import shutil

    migrations = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    head = migrate.head_revision()
    broken = f"{int(head[:4]) + 1:04d}_broken"  # on top of the newest real migration
    (migrations / "versions" / f"{broken}.py").write_text(
        f'from alembic import op\nimport sqlalchemy as sa\n\nrevision = "{broken}"\n'
        f'down_revision = "{head}"\nbranch_labels = None\ndepends_on = None\n\n\n'
        'def upgrade():\n    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))\n'
        '    op.execute("UPDATE messages SET text = \'lost\'")\n'
        '    raise RuntimeError("this migration breaks halfway")\n')
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", migrations)
    monkeypatch.setattr(migrate, "VERSIONS_DIR", migrations / "versions")
    with pytest.raises(RuntimeError, match="breaks halfway"):
        SQLStore(legacy_url)
    engine = create_engine(legacy_url, future=True)
    try:
        with engine.connect() as conn:
            # Neither the new table nor even the baseline stamp (alembic_version) stayed.
            assert set(sa_inspect(conn).get_table_names()) == set(TABLES)
            assert conn.execute(text("SELECT text FROM messages WHERE id = 1")).scalar() == LEGACY_TRANSCRIPT[0][1]
    finally:
        engine.dispose()


def test_commands_refuse_a_database_from_a_newer_release_with_a_clear_message(tmp_path):
    SQLStore(f"sqlite:///{tmp_path}/crossdesk.db").close()
    with sqlite3.connect(tmp_path / "crossdesk.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0042_from_the_future'")
    env = {**os.environ, "CROSSDESK_VAR_DIR": str(tmp_path)}
    listed = subprocess.run([sys.executable, "-m", "handoff", "agents", "list"], cwd=ROOT, env=env, text=True,
                            capture_output=True, timeout=120)
    assert listed.returncode == 2 and "Traceback" not in listed.stderr
    assert "error: the database schema is at revision '0042_from_the_future', newer than this Crossdesk" in listed.stderr
    current = subprocess.run([sys.executable, "-m", "handoff", "db", "current"], cwd=ROOT, env=env, text=True,
                             capture_output=True, timeout=120)
    assert current.stdout.strip() == f"0042_from_the_future (newer than this Crossdesk, whose newest is {migrate.head_revision()})"


def test_db_revision_writes_the_next_numbered_migration(tmp_path, monkeypatch):
    import shutil

    from alembic.script import ScriptDirectory

    migrations = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", migrations)
    monkeypatch.setattr(migrate, "VERSIONS_DIR", migrations / "versions")
    previous = migrate.head_revision()
    expected = f"{int(previous[:4]) + 1:04d}_add_ticket_due_times"
    path = migrate.new_revision("Add ticket due times!")
    assert path == migrations / "versions" / f"{expected}.py" and path.exists()
    assert migrate.head_revision() == expected
    assert ScriptDirectory(str(migrations)).get_revision(expected).down_revision == previous
