"""Conversation storage: records and the SQL implementation."""

from handoff.store.records import Conversation, StoredMessage
from handoff.store.sql import SQLStore

__all__ = ["Conversation", "StoredMessage", "SQLStore"]
