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
    from handoff.settings import Settings

    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    model = settings.model_path or str(ensure_model(settings.models_dir))
    app = create_app(settings, model_path=model)
    base = f"http://{settings.host}:{settings.port}"
    print(f"Crossdesk starting on {base}\n  demo storefront: {base}/\n  health:          {base}/health",
          flush=True)
    app.run(host=settings.host, port=settings.port, workers=1, access_log=False, motd=False)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    parser = argparse.ArgumentParser(prog="python -m handoff", description="Crossdesk server")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="train the model if its inputs changed, then start the server")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args)


if __name__ == "__main__":
    sys.exit(main())
