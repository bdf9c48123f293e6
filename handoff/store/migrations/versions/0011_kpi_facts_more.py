"""The KPI dashboard's per-event summaries: ``transition_facts`` and ``agent_message_counts``.

``transition_facts``: one row per transition into ``waiting``, ``with_agent``
or ``resolved`` (``id`` is the transition's), with what the report pairs it
with, worked out once instead of per request (and the conversation's language):
- ``handoff``: 1 for a handoff or takeover (from ``bot`` to a person);
- ``agent``: for ``with_agent`` by an agent, the agent it went to (a transfer's
  target, else the actor); for ``resolved``, the resolving agent;
- ``next_state``/``next_at`` (a ``waiting`` row): the conversation's next
  transition into ``waiting`` or ``with_agent`` (a claim ends the wait);
- ``reply_id``/``reply_at``/``reply_agent`` (a handoff row): the first agent
  message at or after it;
- ``started_at`` (a ``resolved`` row): the first shopper message after the
  previous resolution (or the start), at or before this one.
``conv_id`` is its conversation (not named ``conversation_id``: like
``conversation_facts`` it is no shopper data of its own, erased with the
transitions by a trigger, and left out of exports).

``agent_message_counts``: agents' messages per agent and UTC quarter hour
(a range's local midnights are quarter hours in every zone in use).

Kept on write: a trigger on ``transitions`` (rare writes: a few per
conversation) inserts the row, closes the previous wait and finds replies
and the resolution's start among the messages already stored; an agent
message's reply and count are noted by ``SQLStore.add_messages`` in the same
transaction (``handoff/store/kpi_facts.py``). Deleted messages and transitions
(erasure) are followed by delete triggers. The upgrade fills both tables from
the rows already stored, so an older database gives exactly the same figures.

No insert trigger on ``messages`` any more: SQLite runs every insert trigger's
program for every inserted row (25-40 µs per message, measured in session 8,
even for rows no trigger's condition selects), so 0008's triggers for shopper
and bot messages are dropped here and ``SQLStore`` keeps ``conversation_facts``
with the same conditional statements (``handoff/store/kpi_facts.py``).

Revision ID: 0011_kpi_facts_more
Revises: 0010_notes_macros_customers
Create Date: 2026-12-07 00:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_kpi_facts_more'
down_revision = '0010_notes_macros_customers'
branch_labels = None
depends_on = None

QUARTER = 900  # seconds
COVERING = ('to_state', 'at', 'handoff', 'next_state', 'next_at', 'reply_at', 'reply_agent', 'agent', 'started_at',
            'reason', 'language', 'conv_id')
KEPT = "'waiting', 'with_agent', 'resolved'"
HANDOFF = "{t}.from_state = 'bot' AND {t}.to_state IN ('waiting', 'with_agent')"


def _json(data: str, key: str, dialect: str) -> str:
    """A JSON text's top-level ``key`` as text, the same expression as ``handoff/kpis.py``'s ``json_text``."""
    if dialect == "postgresql":
        return f"CAST({data} AS JSON) ->> '{key}'"
    return f"CAST(json_extract({data}, '$.{key}') AS VARCHAR)"


def _quarter(column: str, dialect: str) -> str:
    """``floor(column / 900)`` exactly like Python's ``column // 900`` (the division alone may round up to the
    next quarter a time a fraction of a microsecond before it)."""
    rough = (f"CAST(floor({column} / {QUARTER}) AS BIGINT)" if dialect == "postgresql"
             else f"CAST({column} / {QUARTER} AS INTEGER)")  # (a positive epoch: truncation is the floor)
    return f"({rough} - CASE WHEN {rough} * {QUARTER} > {column} THEN 1 ELSE 0 END)"


def _row_values(t: str) -> str:
    """The columns a transition row ``t`` gives directly (:data:`COLUMNS`)."""
    handoff = HANDOFF.format(t=t)
    return (f"{t}.id, {t}.conversation_id, {t}.to_state, CASE WHEN {handoff} THEN 1 ELSE 0 END, {t}.reason, "
            f"CASE WHEN {t}.to_state = 'with_agent' AND {t}.actor LIKE 'agent:%' THEN "
            f"(CASE WHEN {t}.reason LIKE 'transfer:%' THEN substr({t}.reason, 10) ELSE substr({t}.actor, 7) END) "
            f"WHEN {t}.to_state = 'resolved' AND substr({t}.actor, 1, 6) = 'agent:' THEN substr({t}.actor, 7) END, "
            f"{t}.created_at, (SELECT language FROM conversations WHERE id = {t}.conversation_id)")


COLUMNS = "id, conv_id, to_state, handoff, reason, agent, at, language"


def _reply(fact: str) -> str:
    """The id of the first agent message at or after handoff row ``fact`` (NULL for other rows)."""
    return (f"(SELECT min(id) FROM messages WHERE conversation_id = {fact}.conv_id AND sender = 'agent' "
            f"AND created_at >= {fact}.at)")


def _fill(where: str, dialect: str) -> list[str]:
    """Statements working out next/reply/started of the rows of ``transition_facts`` matching ``where``."""
    nxt = ("(SELECT {col} FROM transitions WHERE id = (SELECT min(id) FROM transitions n WHERE "
           "n.conversation_id = transition_facts.conv_id AND n.id > transition_facts.id "
           "AND n.to_state IN ('waiting', 'with_agent')))")
    previous = ("(SELECT p.at FROM transition_facts p WHERE p.conv_id = transition_facts.conv_id "
                "AND p.to_state = 'resolved' AND p.id < transition_facts.id ORDER BY p.id DESC LIMIT 1)")
    return [
        f"UPDATE transition_facts SET next_state = {nxt.format(col='to_state')}, "
        f"next_at = {nxt.format(col='created_at')} WHERE to_state = 'waiting' AND {where}",
        f"UPDATE transition_facts SET reply_id = {_reply('transition_facts')} WHERE handoff = 1 AND {where}",
        "UPDATE transition_facts SET reply_at = (SELECT created_at FROM messages WHERE id = reply_id), "
        f"reply_agent = (SELECT {_json('data', 'agent_id', dialect)} FROM messages WHERE id = reply_id) "
        f"WHERE handoff = 1 AND {where}",
        "UPDATE transition_facts SET started_at = (SELECT min(created_at) FROM messages WHERE "
        "conversation_id = transition_facts.conv_id AND sender = 'shopper' AND created_at <= transition_facts.at "
        f"AND created_at > coalesce({previous}, 0)) WHERE to_state = 'resolved' AND {where}",
    ]


def _triggers(dialect: str) -> dict[str, tuple]:
    """name -> (table, event, condition, statements) run for each row."""
    new = f"INSERT INTO transition_facts ({COLUMNS}) SELECT {_row_values('NEW')}"
    close_wait = ("UPDATE transition_facts SET next_state = NEW.to_state, next_at = NEW.created_at "
                  "WHERE conv_id = NEW.conversation_id AND to_state = 'waiting' AND next_state IS NULL "
                  "AND id < NEW.id AND NEW.to_state IN ('waiting', 'with_agent')")
    requery = _fill("id = NEW.id", dialect)
    count_gone = (f"UPDATE agent_message_counts SET messages = messages - 1 WHERE agent = "
                  f"{_json('OLD.data', 'agent_id', dialect)} AND quarter = {_quarter('OLD.created_at', dialect)}")
    reply_gone = [f"UPDATE transition_facts SET reply_id = {_reply('transition_facts')} "
                  "WHERE conv_id = OLD.conversation_id AND handoff = 1 AND reply_id = OLD.id", *_fill(
                      "conv_id = OLD.conversation_id AND handoff = 1", dialect)[2:3]]
    started_gone = _fill("conv_id = OLD.conversation_id AND to_state = 'resolved'", dialect)[3:]
    return {
        "transition_facts_new": ("transitions", "INSERT", f"NEW.to_state IN ({KEPT})", [close_wait, new, *requery]),
        "transition_facts_gone": ("transitions", "DELETE", None,
                                  ["DELETE FROM transition_facts WHERE id = OLD.id"]),
        "transition_facts_language": ("conversations", "UPDATE OF language", None,
                                      ["UPDATE transition_facts SET language = NEW.language WHERE conv_id = NEW.id"]),
        "transition_facts_reply_gone": ("messages", "DELETE", "OLD.sender = 'agent'", [count_gone, *reply_gone]),
        "transition_facts_start_gone": ("messages", "DELETE", "OLD.sender = 'shopper'", started_gone),
    }


def _message_triggers_of_0008(dialect: str) -> dict[str, tuple]:
    """0008's insert triggers on ``messages`` (dropped by the upgrade, made again by the downgrade)."""
    if dialect == "postgresql":
        intent, earliest, latest = ("CAST(NEW.data AS JSON) ->> 'intent'", "LEAST(first_shopper_at, NEW.created_at)",
                                    "GREATEST(last_shopper_at, NEW.created_at)")
    else:
        intent, earliest, latest = ("CAST(json_extract(NEW.data, '$.intent') AS VARCHAR)",
                                    "min(coalesce(first_shopper_at, NEW.created_at), NEW.created_at)",
                                    "max(coalesce(last_shopper_at, NEW.created_at), NEW.created_at)")
    shopper = ("UPDATE conversation_facts SET first_shopper_id = coalesce(first_shopper_id, NEW.id), "
               f"first_intent = CASE WHEN first_shopper_id IS NULL THEN {intent} ELSE first_intent END, "
               f"first_shopper_at = {earliest}, last_shopper_at = {latest} "
               "WHERE id = NEW.conversation_id AND (first_shopper_id IS NULL OR first_shopper_at > NEW.created_at "
               "OR last_shopper_at <= NEW.created_at - 3600)")
    bot = ("UPDATE conversation_facts SET first_bot_at = NEW.created_at WHERE id = NEW.conversation_id "
           "AND (first_bot_at IS NULL OR first_bot_at > NEW.created_at)")
    return {"conversation_facts_shopper": ("messages", "INSERT", "NEW.sender = 'shopper'", [shopper]),
            "conversation_facts_bot": ("messages", "INSERT", "NEW.sender = 'bot'", [bot])}


def _drop_triggers(triggers: dict[str, tuple], dialect: str) -> None:
    for name, (table, *_) in triggers.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if dialect == "postgresql" else ""))
        if dialect == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")


def _create_triggers(triggers: dict[str, tuple], dialect: str) -> None:
    for name, (table, when, condition, statements) in triggers.items():
        body = "; ".join(statements)
        if dialect == "postgresql":
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       f"BEGIN {body}; RETURN NULL; END $$")
            where = f" WHEN ({condition})" if condition else ""
            op.execute(f"CREATE TRIGGER {name} AFTER {when} ON {table} FOR EACH ROW{where} "
                       f"EXECUTE FUNCTION {name}()")
        else:
            where = f" WHEN {condition}" if condition else ""
            op.execute(f"CREATE TRIGGER {name} AFTER {when} ON {table} FOR EACH ROW{where} BEGIN {body}; END")


def upgrade() -> None:
    op.create_table('transition_facts',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('conv_id', sa.String(length=64), nullable=False),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('handoff', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('agent', sa.String(length=64), nullable=True),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('next_state', sa.String(length=16), nullable=True),
    sa.Column('next_at', sa.Float(), nullable=True),
    sa.Column('reply_id', sa.Integer(), nullable=True),
    sa.Column('reply_at', sa.Float(), nullable=True),
    sa.Column('reply_agent', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('transition_facts', schema=None) as batch_op:
        # Covering: each figure reads a range of it from the index alone (20,000 handoffs: 20 ms against
        # 140 ms through the table).
        batch_op.create_index('ix_transition_facts_state', list(COVERING), unique=False)
        batch_op.create_index('ix_transition_facts_conversation', ['conv_id', 'id'], unique=False)
    op.create_table('agent_message_counts',
    sa.Column('quarter', sa.BigInteger(), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('quarter', 'agent')
    )
    dialect = op.get_bind().dialect.name
    # The backfill: from every stored transition and agent message.
    op.execute(f"INSERT INTO transition_facts ({COLUMNS}) SELECT {_row_values('transitions')} FROM transitions "
               f"WHERE to_state IN ({KEPT})")
    for statement in _fill("1 = 1", dialect):
        op.execute(statement)
    agent = _json('data', 'agent_id', dialect)
    op.execute(f"INSERT INTO agent_message_counts (agent, quarter, messages) SELECT {agent}, "
               f"{_quarter('created_at', dialect)}, count(*) FROM messages WHERE sender = 'agent' AND {agent} IS NOT NULL "
               f"GROUP BY {agent}, {_quarter('created_at', dialect)}")
    _create_triggers(_triggers(dialect), dialect)
    _drop_triggers(_message_triggers_of_0008(dialect), dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(_triggers(dialect), dialect)
    _create_triggers(_message_triggers_of_0008(dialect), dialect)
    op.drop_table('agent_message_counts')
    with op.batch_alter_table('transition_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_transition_facts_conversation')
        batch_op.drop_index('ix_transition_facts_state')
    op.drop_table('transition_facts')
