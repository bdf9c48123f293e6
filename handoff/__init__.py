"""Crossdesk server: Sanic + python-socketio bridge between shoppers, the bot and agents."""
