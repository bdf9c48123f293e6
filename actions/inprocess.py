"""Run custom actions inside the server process: no action server to start.

Rasa calls ``action_endpoint.request(json=...)``; this endpoint answers by
running rasa_sdk's executor directly instead of making an HTTP request.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.utils.endpoints import EndpointConfig
from rasa_sdk.executor import ActionExecutor

from actions.actions import ALL_ACTIONS
from crossdesk.store_facts import Gazetteer, StoreFacts


def build_executor(facts: Optional[StoreFacts] = None, gazetteer: Optional[Gazetteer] = None) -> ActionExecutor:
    """An executor with every Crossdesk action registered (facts loaded once)."""
    facts = facts or StoreFacts.from_dir()
    gazetteer = gazetteer or Gazetteer.from_file()
    executor = ActionExecutor()
    for action_class in ALL_ACTIONS:
        executor.register_action(action_class(facts, gazetteer))
    return executor


class InProcessActionEndpoint(EndpointConfig):
    """An action endpoint whose requests are served by a local executor."""

    def __init__(self, executor: Optional[ActionExecutor] = None):
        super().__init__(url="inprocess://actions")
        self.executor = executor or build_executor()

    async def request(self, method: str = "post", subpath: Optional[str] = None,
                      content_type: Optional[str] = "application/json", compress: bool = False,
                      **kwargs: Any) -> Optional[Any]:
        """Run the action named in the JSON body; return Rasa's expected response."""
        return await self.executor.run(kwargs["json"])
