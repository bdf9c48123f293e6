"""Machine translation between shoppers and agents (see ``service``)."""

from handoff.translation.service import Translation, TranslationService

__all__ = ["TranslationService", "Translation"]
