"""``python -m handoff serve``: train if needed, then run the server."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def serve(args: argparse.Namespace) -> None:
    """Ensure a model, then run one server process."""
    from crossdesk.compat import stdlib_distutils

    threshold, restore_collections = fewer_collections_while_starting()
    stdlib_distutils()  # before Sanic imports distutils (setuptools' copy cost 0.1-0.35 s of the start)
    from crossdesk.compat_cold_start import lazy_unused_clients

    lazy_unused_clients()  # (JWT and RabbitMQ clients that Rasa and python-socketio import at start)
    from bot.training import ensure_model, live_model
    from handoff.settings import Settings

    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    workers = args.workers if args.workers is not None else settings.workers
    if workers > 1:
        import gc

        from handoff.workers import serve_workers

        gc.set_threshold(*threshold)  # (the supervisor loads no model)
        return serve_workers(settings, workers)
    # The live model (the studio's or `models activate`'s choice) survives restarts; a change of the
    # training inputs trains a new model, which becomes live.
    fresh = None if settings.model_path else ensure_model(settings.models_dir)
    model = str(live_model(settings.models_dir) or settings.model_path or fresh)
    unpack_before_loading(model)  # beside the imports below
    from crossdesk.compat import sanic_protocol
    from handoff.app import create_app
    from handoff.business_hours import InvalidHours
    from handoff.bytecode import refresh_once_loaded
    from handoff.store.migrate import SchemaError

    for name in ("handoff", "bot", "actions", "crossdesk"):  # Agent.load sets the root logger to WARNING: ours keep their level
        logging.getLogger(name).setLevel(settings.log_level)
    try:
        app = create_app(settings, model_path=model)
    except (SchemaError, InvalidHours) as error:  # (a database from a newer release, or not ours; bad hours)
        sys.exit(f"error: {error}")
    app.register_listener(restore_collections, "after_server_start")
    app.register_listener(refresh_once_loaded(), "after_server_start")  # (the next start reads our bytecode)
    base = f"http://{settings.host}:{settings.port}"
    print(f"Crossdesk starting on {base}\n  demo storefront: {base}/\n  health:          {base}/health",
          flush=True)
    app.run(host=settings.host, port=settings.port, workers=1, access_log=False, motd=False,
            protocol=sanic_protocol())


def unpack_before_loading(model: str) -> None:
    """Unpack a model not yet unpacked (copied in, or trained before models were unpacked at training) in a
    child process while the server imports, instead of inside the bot's load after them.

    (A trained model is unpacked by ``bot.training.ensure_model``; then this finds it kept and does nothing.)
    """
    from crossdesk.unpacked_models import unpack_in_background

    unpack_in_background(Path(model))


STARTUP_GC_THRESHOLD = (50_000, 20, 100)
"""The garbage collector's thresholds until the model is loaded: the start allocates millions of objects that
live for good (modules, the model), and with the default (700, 10, 10) the collector ran ~500 times and
scanned them all 3 times, 0.3 s of a 3.3 s start (0.1 s with these; measured with ``gc.callbacks``)."""


def fewer_collections_while_starting():
    """Raise the collector's thresholds for the start.

    Returns:
        (the thresholds before, a Sanic ``after_server_start`` listener restoring them once the bot is loaded,
        then pacing the full collections).

    (The bot engine collects and freezes everything the load left, ``BotEngine._run``.)
    """
    import gc

    from handoff.collector import collect_fully_every

    previous = gc.get_threshold()
    gc.set_threshold(*STARTUP_GC_THRESHOLD)

    async def restore_once_loaded(app, loop) -> None:
        async def restore() -> None:
            try:
                await app.ctx.bot.wait_ready()
            except Exception:  # (a failed load is reported by the engine and /health)
                pass
            finally:
                gc.set_threshold(*previous)
            await collect_fully_every()  # (full collections from now on at a steady pace: handoff/collector.py)

        app.add_task(restore())

    return previous, restore_once_loaded


def agents_command(args: argparse.Namespace) -> int:
    """``agents add NAME --languages ja,en`` (password on stdin), ``agents list``, ``deactivate``/``reactivate NAME``."""
    from handoff.settings import Settings
    from handoff.store import SQLStore
    from handoff.store.agents import AgentError, AgentStore
    from handoff.store.migrate import SchemaError

    try:
        store = AgentStore(SQLStore(Settings.from_env().database_url))
    except SchemaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.agents_command == "list":
        for agent in store.all():
            print(f"{agent.username}\t{agent.display_name}\t{','.join(agent.languages)}\t{agent.role}"
                  + ("" if agent.active else "\tdeactivated") + (f"\tskills={','.join(agent.skills)}" if agent.skills else ""))
        return 0
    if args.agents_command in ("deactivate", "reactivate"):
        return set_active(store, args.name, args.agents_command == "reactivate")
    if args.agents_command == "passwd":
        return set_password(store, args.name)
    if args.agents_command == "edit":
        return edit_agent(store, args)
    password = sys.stdin.readline().rstrip("\n")
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    try:
        agent = store.add(args.name, password, languages, args.display_name, args.role, _names(args.skills or ""))
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"added agent {agent.username} ({agent.display_name}; {', '.join(languages)}; {agent.role})")
    return 0


def _names(value: str) -> list[str]:
    """``"ja, ko"`` -> ``["ja", "ko"]``."""
    return [item.strip() for item in value.split(",") if item.strip()]


def read_password(prompt: str) -> str:
    """A password without echo on a terminal (asked twice), else the first line of stdin."""
    import getpass

    if sys.stdin.isatty():
        password = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != password:
            raise ValueError("the two passwords differ")
        return password
    return sys.stdin.readline().rstrip("\n")


def set_password(store, username: str) -> int:
    """``agents passwd NAME``: a new password; the agent's logins end (open consoles within seconds)."""
    from handoff.store.agents import AgentError

    agent = store.by_username(username)
    if agent is None:
        print(f"error: no agent called {username!r}", file=sys.stderr)
        return 2
    try:
        store.set_password(agent.id, read_password(f"New password for {username}: "))
    except (AgentError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"new password set for {username}: their open consoles log in again")
    return 0


def edit_agent(store, args: argparse.Namespace) -> int:
    """``agents edit NAME [--languages ja,ko] [--skills payments] [--role agent] [--display-name X]``."""
    from handoff.store.agents import AgentError

    agent = store.by_username(args.name)
    if agent is None:
        print(f"error: no agent called {args.name!r}", file=sys.stderr)
        return 2
    changes = {"display_name": args.display_name, "role": args.role,
               "languages": None if args.languages is None else _names(args.languages),
               "skills": None if args.skills is None else _names(args.skills)}
    if all(value is None for value in changes.values()):
        print("error: give --languages, --skills, --role or --display-name", file=sys.stderr)
        return 2
    try:
        agent = store.update(agent.id, **changes)
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{agent.username}\t{agent.display_name}\t{','.join(agent.languages)}\t{','.join(agent.skills)}\t{agent.role}")
    return 0


def set_active(store, username: str, active: bool) -> int:
    """Deactivate (their live sockets are cut within seconds) or reactivate an agent."""
    from handoff.store.agents import AgentError

    try:
        store.set_active(username, active)
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"reactivated agent {username} (they log in again)" if active else
          f"deactivated agent {username}: they can no longer log in; open consoles are cut off")
    return 0


def shopper_command(args: argparse.Namespace) -> int:
    """``shopper export|delete --session ID | --email X`` and ``shopper purge`` (JSON on stdout)."""
    import json

    from handoff.privacy import Privacy, ShopperNotFound
    from handoff.settings import Settings
    from handoff.store import SQLStore

    settings = Settings.from_env()
    privacy = Privacy(SQLStore(settings.database_url), settings.tracker_db_url, settings.retention_days,
                      uploads=Path(settings.var_dir) / "uploads")
    try:
        if args.shopper_command == "purge":
            result = privacy.purge()
        else:
            action = privacy.export if args.shopper_command == "export" else privacy.delete
            result = action(session=args.session, email=args.email)
    except ShopperNotFound as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        privacy.close()
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def db_command(args: argparse.Namespace) -> int:
    """``db upgrade`` (to the newest schema), ``db current`` and ``db revision MESSAGE`` (for developers)."""
    from sqlalchemy import create_engine

    from handoff.settings import Settings
    from handoff.store import migrate

    if args.db_command == "revision":
        print(f"wrote {migrate.new_revision(args.message)} (review it before committing)")
        return 0
    url = Settings.from_env().database_url
    engine = create_engine(url, future=True)
    try:
        if args.db_command == "current":
            print(migrate.describe(engine))
            return 0
        before, after = migrate.upgrade(engine)
    except migrate.SchemaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"database at {after} (newest)" + ("" if before == after else f", was {before or 'empty'}"))
    return 0


def models_command(args: argparse.Namespace) -> int:
    """``models list`` (kept models, newest first, * = live) and ``models activate NAME`` (rollback).

    Activation writes ``var/models/LIVE``: running servers with the same ``CROSSDESK_VAR_DIR`` switch
    to the model within seconds (they watch that file), and later starts serve it.
    """
    import datetime as dt

    from bot import training
    from handoff.model_updates import model_name_ok
    from handoff.settings import Settings

    models_dir = Settings.from_env().models_dir
    live = training.live_model(models_dir)
    if args.models_command == "list":
        models = sorted(models_dir.glob(f"{training.MODEL_NAME}-*.tar.gz"), key=lambda p: p.stat().st_mtime,
                        reverse=True)
        for path in models:
            when = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            print(f"{'*' if live and path.resolve() == live.resolve() else ' '} {path.name}\t{when}")
        return 0
    path = models_dir / args.name
    if not model_name_ok(args.name) or not path.exists():
        print(f"error: no model {args.name} in {models_dir} (python -m handoff models list)", file=sys.stderr)
        return 2
    training.set_live_model(models_dir, path)
    print(f"{args.name} is live: running servers switch to it within seconds")
    return 0


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    parser = argparse.ArgumentParser(prog="python -m handoff", description="Crossdesk server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="train the model if its inputs changed, then start the server")
    serve_parser.add_argument("--workers", type=int, default=None,
                              help="server processes on consecutive ports (default CROSSDESK_WORKERS, 1); "
                                   "more than one needs CROSSDESK_REDIS_URL")
    agents = commands.add_parser("agents", help="manage agent accounts")
    agent_commands = agents.add_subparsers(dest="agents_command", required=True)
    add = agent_commands.add_parser("add", help="add an agent; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--languages", required=True, help="comma-separated, e.g. ja,en")
    add.add_argument("--display-name")
    add.add_argument("--role", default="agent", choices=["agent", "admin", "content"])
    add.add_argument("--skills", help="comma-separated teams conversations are routed by, e.g. payments,returns")
    edit = agent_commands.add_parser("edit", help="change an agent's languages, skills, role or display name")
    edit.add_argument("name")
    edit.add_argument("--languages", help="comma-separated, e.g. ja,ko (replaces the list)")
    edit.add_argument("--skills", help="comma-separated, e.g. payments,returns (replaces the list; '' clears it)")
    edit.add_argument("--role", choices=["agent", "admin", "content"])
    edit.add_argument("--display-name")
    agent_commands.add_parser("passwd", help="set a new password (asked without echo on a terminal, "
                                             "else read from stdin); the agent's logins end").add_argument("name")
    agent_commands.add_parser("list", help="list agents")
    agent_commands.add_parser("deactivate", help="stop an agent logging in and end their sessions").add_argument("name")
    agent_commands.add_parser("reactivate", help="let a deactivated agent log in again").add_argument("name")
    shopper = commands.add_parser("shopper", help="a shopper's data: export, erase; retention purge")
    shopper_commands = shopper.add_subparsers(dest="shopper_command", required=True)
    for name, text in (("export", "print everything stored about a shopper as JSON"),
                       ("delete", "erase a shopper's conversations, messages, contacts and Rasa trackers")):
        command = shopper_commands.add_parser(name, help=text)
        which = command.add_mutually_exclusive_group(required=True)
        which.add_argument("--session", help="the widget's session id")
        which.add_argument("--email", help="every conversation where this e-mail was left")
    shopper_commands.add_parser("purge", help="delete what is older than CROSSDESK_RETENTION_DAYS now")
    db = commands.add_parser("db", help="database schema (CROSSDESK_DATABASE_URL)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="upgrade the schema to the newest revision (the server does it at start)")
    db_commands.add_parser("current", help="show the database's schema revision")
    revision = db_commands.add_parser("revision", help="developers: write the next migration from the models")
    revision.add_argument("message")
    models = commands.add_parser("models", help="trained models: list, activate (rollback)")
    models_commands = models.add_subparsers(dest="models_command", required=True)
    models_commands.add_parser("list", help="kept models, newest first (* = live)")
    models_commands.add_parser("activate", help="make a kept model live (running servers follow)").add_argument("name")
    args = parser.parse_args(argv)
    if args.command == "models":
        return models_command(args)
    if args.command == "serve":
        serve(args)
    elif args.command == "agents":
        return agents_command(args)
    elif args.command == "shopper":
        return shopper_command(args)
    elif args.command == "db":
        return db_command(args)


if __name__ == "__main__":
    sys.exit(main())
