"""Custom actions (rasa_sdk), run in-process by default."""
