"""A per-conversation summary for the KPI dashboard (``conversation_facts``), kept by triggers;
partial indexes on ``messages`` for its not-understood and per-agent figures.

One row per conversation: its language, its first shopper message (id, time,
the intent the bot read in it), the time of its last shopper message (to
within ``SLACK`` seconds), its first bot message's time and its first handoff
(a ``bot -> waiting/with_agent`` transition: id, time, reason). The dashboard
reads these ~100,000 narrow rows instead of grouping ~460,000 messages.

Triggers keep it in the same transaction as every write, whoever writes (the
store, the command line, tests and benchmarks that insert rows directly):
- a shopper message: one conditional UPDATE that changes the row only for the
  conversation's first message, an earlier one, or one ``SLACK`` seconds after
  the recorded last (so most relayed messages cost a primary-key lookup and
  no page write); a bot message: only when it is the earliest;
- the bot's reading of a shopper message (``UPDATE ... data``): the first intent;
- a deleted message or transition (erasure): the row is worked out again;
- a conversation's language change, creation and deletion.
Messages and transitions are never otherwise updated (their time, sender and
conversation are written once).

The upgrade fills the table from the rows already stored, so an older database
gives exactly the same figures after it.

Revision ID: 0008_conversation_facts
Revises: 0007_kpi_summary
Create Date: 2026-12-06 21:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0008_conversation_facts'
down_revision = '0007_kpi_summary'
branch_labels = None
depends_on = None

SLACK = 3600  # seconds; handoff/kpis.py relies on this value (LAST_SHOPPER_SLACK)
NOT_UNDERSTOOD_ROWS = "sender = 'shopper' AND data LIKE '%nlu_fallback%'"
AGENT_ROWS = "sender = 'agent'"
HANDOFF = "NEW.from_state = 'bot' AND NEW.to_state IN ('waiting', 'with_agent')"


def _intent(data: str, dialect: str) -> str:
    """The JSON text's ``intent`` as text, the same expression as ``handoff/kpis.py``'s ``json_text``."""
    if dialect == "postgresql":
        return f"CAST({data} AS JSON) ->> 'intent'"
    return f"CAST(json_extract({data}, '$.intent') AS VARCHAR)"


def _recompute(cid: str, dialect: str) -> str:
    """SET clause working every column out again from the stored rows of conversation ``cid``."""
    def first_shopper(column: str) -> str:
        return f"(SELECT {column} FROM messages WHERE conversation_id = {cid} AND sender = 'shopper')"

    first_handoff = ("(SELECT min(id) FROM transitions WHERE conversation_id = {cid} AND from_state = 'bot'"
                     " AND to_state IN ('waiting', 'with_agent'))").format(cid=cid)
    return (f"first_shopper_id = {first_shopper('min(id)')}, "
            f"first_shopper_at = {first_shopper('min(created_at)')}, "
            f"last_shopper_at = {first_shopper('max(created_at)')}, "
            f"first_intent = (SELECT {_intent('data', dialect)} FROM messages WHERE id = {first_shopper('min(id)')}), "
            f"first_bot_at = (SELECT min(created_at) FROM messages WHERE conversation_id = {cid} AND sender = 'bot'), "
            f"first_handoff_id = {first_handoff}, "
            f"first_handoff_at = (SELECT created_at FROM transitions WHERE id = {first_handoff}), "
            f"first_handoff_reason = (SELECT reason FROM transitions WHERE id = {first_handoff})")


def _statements(dialect: str) -> dict[str, str]:
    """The body of each trigger: (table, event, condition) -> SQL statements run for the row."""
    if dialect == "postgresql":
        earliest, latest = "LEAST({a}, {b})", "GREATEST({a}, {b})"  # (they skip NULLs)
    else:
        earliest, latest = "min(coalesce({a}, {b}), {b})", "max(coalesce({a}, {b}), {b})"
    shopper = (
        "UPDATE conversation_facts SET first_shopper_id = coalesce(first_shopper_id, NEW.id), "
        f"first_intent = CASE WHEN first_shopper_id IS NULL THEN {_intent('NEW.data', dialect)} "
        "ELSE first_intent END, "
        f"first_shopper_at = {earliest.format(a='first_shopper_at', b='NEW.created_at')}, "
        f"last_shopper_at = {latest.format(a='last_shopper_at', b='NEW.created_at')} "
        "WHERE id = NEW.conversation_id AND (first_shopper_id IS NULL OR first_shopper_at > NEW.created_at "
        f"OR last_shopper_at <= NEW.created_at - {SLACK})")
    bot = ("UPDATE conversation_facts SET first_bot_at = NEW.created_at WHERE id = NEW.conversation_id "
           "AND (first_bot_at IS NULL OR first_bot_at > NEW.created_at)")
    intent = (f"UPDATE conversation_facts SET first_intent = {_intent('NEW.data', dialect)} "
              "WHERE id = NEW.conversation_id AND first_shopper_id = NEW.id")
    handoff = ("UPDATE conversation_facts SET first_handoff_id = NEW.id, first_handoff_at = NEW.created_at, "
               "first_handoff_reason = NEW.reason WHERE id = NEW.conversation_id AND first_handoff_id IS NULL")
    again = f"UPDATE conversation_facts SET {_recompute('OLD.conversation_id', dialect)} WHERE id = OLD.conversation_id"
    return {
        "conversation_facts_new": ("conversations", "INSERT", None,
                                   "INSERT INTO conversation_facts (id, language) VALUES (NEW.id, NEW.language)"),
        "conversation_facts_language": ("conversations", "UPDATE OF language", None,
                                        "UPDATE conversation_facts SET language = NEW.language WHERE id = NEW.id"),
        "conversation_facts_gone": ("conversations", "DELETE", None,
                                    "DELETE FROM conversation_facts WHERE id = OLD.id"),
        "conversation_facts_shopper": ("messages", "INSERT", "NEW.sender = 'shopper'", shopper),
        "conversation_facts_bot": ("messages", "INSERT", "NEW.sender = 'bot'", bot),
        "conversation_facts_intent": ("messages", "UPDATE OF data", "NEW.sender = 'shopper'", intent),
        "conversation_facts_message_gone": ("messages", "DELETE", "OLD.sender IN ('shopper', 'bot')", again),
        "conversation_facts_handoff": ("transitions", "INSERT", HANDOFF, handoff),
        "conversation_facts_transition_gone": ("transitions", "DELETE", None, again),
    }


def _create_triggers(dialect: str) -> None:
    for name, (table, when, condition, statement) in _statements(dialect).items():
        if dialect == "postgresql":
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       f"BEGIN {statement}; RETURN NULL; END $$")
            where = f" WHEN ({condition})" if condition else ""
            op.execute(f"CREATE TRIGGER {name} AFTER {when} ON {table} FOR EACH ROW{where} "
                       f"EXECUTE FUNCTION {name}()")
        else:
            where = f" WHEN {condition}" if condition else ""
            op.execute(f"CREATE TRIGGER {name} AFTER {when} ON {table} FOR EACH ROW{where} "
                       f"BEGIN {statement}; END")


def upgrade() -> None:
    op.create_table('conversation_facts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('first_shopper_id', sa.Integer(), nullable=True),
    sa.Column('first_shopper_at', sa.Float(), nullable=True),
    sa.Column('last_shopper_at', sa.Float(), nullable=True),
    sa.Column('first_intent', sa.Text(), nullable=True),
    sa.Column('first_bot_at', sa.Float(), nullable=True),
    sa.Column('first_handoff_id', sa.Integer(), nullable=True),
    sa.Column('first_handoff_at', sa.Float(), nullable=True),
    sa.Column('first_handoff_reason', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conversation_facts', schema=None) as batch_op:
        # Covering: the report reads a range of them from the index alone.
        batch_op.create_index('ix_conversation_facts_first_shopper', [
            'first_shopper_at', 'first_bot_at', 'first_shopper_id', 'language', 'first_intent', 'first_handoff_at',
            'first_handoff_reason', 'id'], unique=False)
        batch_op.create_index('ix_conversation_facts_last_shopper', ['last_shopper_at', 'first_shopper_at', 'id'],
                              unique=False)
    # Partial indexes for the messages the bot did not understand and agents' messages (the report's
    # queries repeat these conditions; handoff/store/sql.py).
    with op.batch_alter_table('messages', schema=None) as batch_op:
        for name, rows in (('ix_messages_not_understood', NOT_UNDERSTOOD_ROWS), ('ix_messages_agent', AGENT_ROWS)):
            batch_op.create_index(name, ['created_at'], unique=False, sqlite_where=sa.text(rows),
                                  postgresql_where=sa.text(rows))
    dialect = op.get_bind().dialect.name
    # The backfill: every stored conversation, worked out from its messages and transitions.
    op.execute("INSERT INTO conversation_facts (id, language) SELECT id, language FROM conversations")
    op.execute(f"UPDATE conversation_facts SET {_recompute('conversation_facts.id', dialect)}")
    _create_triggers(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, (table, *_) in _statements(dialect).items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if dialect == "postgresql" else ""))
        if dialect == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_agent')
        batch_op.drop_index('ix_messages_not_understood')
    with op.batch_alter_table('conversation_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_facts_last_shopper')
        batch_op.drop_index('ix_conversation_facts_first_shopper')
    op.drop_table('conversation_facts')
