"""Store facts that answers depend on, read from ``data/store/*.yml``.

Staff change a delivery time, fee, duty rule or payment method there (or in
the studio, which reloads them in the running server); no retraining.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

STORE_DIR = Path(__file__).resolve().parent.parent / "data" / "store"

_DEFAULT_DESTINATION = {
    "days_min": 7, "days_max": 14, "fee_jpy": 2500, "free_over_jpy": 20000,
    "duties": {"model": "ddu", "threshold": "USD 100", "vat": "local taxes"},
    "payment_methods": ["Visa", "Mastercard", "American Express", "PayPal"],
    "currency": "USD",
}
_DEFAULT_POLICIES = {
    "dispatch_days": 2, "return_days": 30, "refund_days": 7,
    "tracking_url": "https://shop.example/track",
}


def _load(path: Path) -> dict:
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def yen(amount: Any) -> str:
    """Format a JPY amount as shoppers read it: ``¥2,500``."""
    try:
        return f"¥{int(amount):,}"
    except (TypeError, ValueError):
        return str(amount)


@dataclass
class StoreFacts:
    """Destinations (per ISO code, plus a default) and shop policies."""

    destinations: dict = field(default_factory=dict)
    default: dict = field(default_factory=lambda: dict(_DEFAULT_DESTINATION))
    not_shipped: set = field(default_factory=set)
    policies: dict = field(default_factory=lambda: dict(_DEFAULT_POLICIES))

    @classmethod
    def from_dir(cls, directory: Optional[Path] = None) -> "StoreFacts":
        """Load ``destinations.yml`` and ``policies.yml`` (defaults if absent).

        Without ``directory``: ``data/store`` under the content folder (``CROSSDESK_CONTENT_DIR``).
        """
        if directory is None:
            from handoff.settings import Settings

            directory = Settings.from_env().content_path / "data" / "store"
        dest = _load(Path(directory) / "destinations.yml")
        policies = {**_DEFAULT_POLICIES, **_load(Path(directory) / "policies.yml")}
        return cls(
            destinations={str(k).upper(): v for k, v in (dest.get("destinations") or {}).items()},
            default={**_DEFAULT_DESTINATION, **(dest.get("default") or {})},
            not_shipped={str(c).upper() for c in dest.get("not_shipped") or []},
            policies=policies,
        )

    def destination(self, code: Optional[str]) -> Optional[dict]:
        """Facts for a destination we ship to (default filled in), else None."""
        if not code or code.upper() in self.not_shipped:
            return None
        known = self.destinations.get(code.upper())
        return {**self.default, **known} if known else None

    def destination_or_default(self, code: Optional[str]) -> Optional[dict]:
        """Facts for a destination: its own, the default for one we ship to without a list entry
        (answers then name the country instead of asking for it again), None without a destination."""
        if not code or not self.ships_to(code):
            return None
        return self.destination(code) or dict(self.default)

    def ships_to(self, code: str) -> bool:
        """Whether we ship to ``code`` (listed destinations and unlisted, not banned, ones)."""
        return code.upper() not in self.not_shipped

    def shipping_values(self, dest: dict) -> dict:
        """Delivery days and fees for a destination (``self.default`` for the generic answer)."""
        return {
            "days_min": dest["days_min"], "days_max": dest["days_max"],
            "dispatch_days": self.policies["dispatch_days"],
            "fee": yen(dest["fee_jpy"]), "free_over": yen(dest["free_over_jpy"]),
        }

    def destination_count(self) -> int:
        """How many destinations have explicit facts."""
        return len(self.destinations)
