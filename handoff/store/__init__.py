"""Conversation storage: records and the SQL implementation."""

from handoff.store.records import Conversation, NewMessage, StoredMessage
from handoff.store.sql import SQLStore

__all__ = ["Conversation", "NewMessage", "StoredMessage", "SQLStore"]
