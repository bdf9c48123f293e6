"""``python -m handoff serve``: train if needed, then run the server."""

from __future__ import annotations

import argparse
import logging
import os
import sys


def serve(args: argparse.Namespace) -> None:
    """Ensure a model, then run one server process."""
    from bot.training import ensure_model
    from handoff.app import create_app
    from handoff.sanic_compat import CrossdeskProtocol
    from handoff.settings import Settings

    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Loading a Rasa model sets the root logger to WARNING; the server's own INFO lines (refused inputs) stay.
    logging.getLogger("handoff").setLevel(settings.log_level)
    model = settings.model_path or str(ensure_model(settings.models_dir))
    app = create_app(settings, model_path=model)
    base = f"http://{settings.host}:{settings.port}"
    print(f"Crossdesk starting on {base}\n  demo storefront: {base}/\n  health:          {base}/health",
          flush=True)
    app.run(host=settings.host, port=settings.port, workers=1, access_log=False, motd=False,
            protocol=CrossdeskProtocol)


def agents_command(args: argparse.Namespace) -> int:
    """``agents add NAME --languages ja,en`` (password on stdin) and ``agents list``."""
    from handoff.settings import Settings
    from handoff.store import SQLStore
    from handoff.store.agents import AgentError, AgentStore

    store = AgentStore(SQLStore(Settings.from_env().database_url))
    if args.agents_command == "list":
        for agent in store.all():
            print(f"{agent.username}\t{agent.display_name}\t{','.join(agent.languages)}\t{agent.role}")
        return 0
    password = sys.stdin.readline().rstrip("\n")
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    try:
        agent = store.add(args.name, password, languages, args.display_name, args.role)
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"added agent {agent.username} ({agent.display_name}; {', '.join(languages)}; {agent.role})")
    return 0


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    parser = argparse.ArgumentParser(prog="python -m handoff", description="Crossdesk server")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="train the model if its inputs changed, then start the server")
    agents = commands.add_parser("agents", help="manage agent accounts")
    agent_commands = agents.add_subparsers(dest="agents_command", required=True)
    add = agent_commands.add_parser("add", help="add an agent; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--languages", required=True, help="comma-separated, e.g. ja,en")
    add.add_argument("--display-name")
    add.add_argument("--role", default="agent", choices=["agent", "admin"])
    agent_commands.add_parser("list", help="list agents")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args)
    elif args.command == "agents":
        return agents_command(args)


if __name__ == "__main__":
    sys.exit(main())
