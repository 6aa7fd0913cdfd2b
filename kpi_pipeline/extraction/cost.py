"""What a Claude call cost, from its token usage and the prices in `kpi_pipeline/prices.yaml`.

Prices are config: the table is read from YAML so a price change is an edit, not a release. Cache writes,
cache reads and the batch discount are multipliers, as Anthropic bills them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kpi_pipeline.extraction.schema import LlmUsage

PRICES_PATH = Path(__file__).resolve().parents[1] / "prices.yaml"
_SNAPSHOT_SUFFIX = re.compile(r"^-\d{8}$")


class PricingError(ValueError):
    """The price table is unusable or lacks the model; the message names the file."""


@dataclass(frozen=True)
class ModelPrice:
    input_per_mtok: float
    output_per_mtok: float


@dataclass(frozen=True)
class PriceTable:
    models: dict[str, ModelPrice]
    cache_write_multiplier: float
    cache_read_multiplier: float
    batch_multiplier: float
    path: Path

    def price(self, model: str) -> ModelPrice:
        """The price of `model`: an exact key, or a key plus a dated snapshot suffix."""
        if model in self.models:
            return self.models[model]
        for key, price in self.models.items():
            if model.startswith(key) and _SNAPSHOT_SUFFIX.match(model[len(key) :]):
                return price
        raise PricingError(
            f"{self.path}: no price for model {model!r}; add it under 'models:' as "
            f"{model}: {{input: <$ per million tokens>, output: <$ per million tokens>}} "
            f"(priced now: {', '.join(sorted(self.models))})"
        )

    def cost_usd(self, model: str, usage: LlmUsage, *, batch: bool = False) -> float:
        price = self.price(model)
        input_rate = price.input_per_mtok / 1_000_000
        output_rate = price.output_per_mtok / 1_000_000
        total = (
            usage.input_tokens * input_rate
            + usage.cache_creation_input_tokens * input_rate * self.cache_write_multiplier
            + usage.cache_read_input_tokens * input_rate * self.cache_read_multiplier
            + usage.output_tokens * output_rate
        )
        return total * (self.batch_multiplier if batch else 1.0)


def _number(data: Any, key: str, where: str, path: Path) -> float:
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PricingError(f"{path}: {where}.{key} must be a non-negative number, got {value!r}")
    return float(value)


def load_prices(path: Path | str = PRICES_PATH) -> PriceTable:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PricingError(f"{path}: price file not found") from None
    except yaml.YAMLError as exc:
        raise PricingError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict) or not data["models"]:
        raise PricingError(f"{path}: expected 'multipliers:' and a non-empty 'models:' mapping at the top")
    multipliers = data.get("multipliers")
    models = {
        str(name): ModelPrice(
            input_per_mtok=_number(entry, "input", f"models.{name}", path),
            output_per_mtok=_number(entry, "output", f"models.{name}", path),
        )
        for name, entry in data["models"].items()
    }
    return PriceTable(
        models=models,
        cache_write_multiplier=_number(multipliers, "cache_write_5m", "multipliers", path),
        cache_read_multiplier=_number(multipliers, "cache_read", "multipliers", path),
        batch_multiplier=_number(multipliers, "batch", "multipliers", path),
        path=path,
    )
