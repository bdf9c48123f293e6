"""Where the repository keeps its files: the one place a path inside the checkout is spelled out.

Runtime paths that an operator may move (the database, ``var/``, the model file) are settings
(``handoff/settings.py``); the defaults here are what the settings fall back to.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository's root."""

DATA_DIR = ROOT / "data"
NLU_DIR = DATA_DIR / "nlu"
"""Training examples, ``<lang>/<topic>.yml``."""
RULES_FILE = DATA_DIR / "rules.yml"
LANGUAGE_DATA_DIR = DATA_DIR / "language"
"""Word lists for language detection and the actions' topic words."""
STORE_DATA_DIR = DATA_DIR / "store"
"""The store's facts (destinations, countries, payment methods, policies): edited by staff, no retrain."""
EVAL_DIR = DATA_DIR / "eval"
"""Messages written separately from the training data, for evaluation."""

BOT_DIR = ROOT / "bot"
CONFIG_FILE = ROOT / "config.yml"
DOMAIN_FILE = BOT_DIR / "domain.yml"
RESPONSES_DIR = BOT_DIR / "responses"
"""The bot's answers, one file per language."""

VAR_DIR = ROOT / "var"
"""Runtime data by default (``CROSSDESK_VAR_DIR``)."""
MODELS_DIR = VAR_DIR / "models"
"""Trained models by default (``var_dir / "models"``)."""

HANDOFF_DIR = ROOT / "handoff"
CONSOLE_DIR = HANDOFF_DIR / "console"
WIDGET_DIR = ROOT / "widget"
