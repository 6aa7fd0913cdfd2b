"""What a Claude call cost, from its token usage and the prices in `kpi_pipeline/prices.yaml`, and the
budget a run may spend.

Prices are config: the table is read from YAML so a price change is an edit, not a release. Cache writes,
cache reads and the batch discount are multipliers, as Anthropic bills them.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kpi_pipeline.extraction.schema import LlmUsage

PRICES_PATH = Path(__file__).resolve().parents[1] / "prices.yaml"
_SNAPSHOT_SUFFIX = re.compile(r"^-\d{8}$")
BUDGET_SETTING = "KPI_LLM_BUDGET_USD"


class PricingError(ValueError):
    """The price table is unusable or lacks the model; the message names the file."""


class BudgetExceeded(RuntimeError):
    """A run would spend more than `KPI_LLM_BUDGET_USD`; raised before the call (or the run) that would."""


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


def parse_budget(value: str | float | None) -> float | None:
    """`KPI_LLM_BUDGET_USD` as dollars; unset or empty means no budget."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        budget = float(value)
    except ValueError:
        raise PricingError(
            f"{BUDGET_SETTING}={value!r} is not a number of US dollars: write it as e.g. 25 or 2.50"
        ) from None
    if not budget >= 0:
        raise PricingError(f"{BUDGET_SETTING}={value!r} must be zero or more dollars")
    return budget


class SpendGuard:
    """One run's spend against its budget. A call is reserved at its estimated cost before it is sent and
    settled at its billed cost after, so concurrent calls cannot together overshoot what is left; the spend
    passes the budget only by what the calls in flight bill above their estimates."""

    def __init__(self, budget_usd: float | None) -> None:
        self.budget_usd = budget_usd
        self.spent_usd = 0.0
        self.calls = 0
        self._reserved_usd = 0.0
        self._lock = threading.Lock()

    def reserve(self, estimate_usd: float, what: str = "the next LLM call") -> float:
        """Hold `estimate_usd` for a call about to go out, or raise BudgetExceeded naming the setting."""
        with self._lock:
            committed = self.spent_usd + self._reserved_usd
            if self.budget_usd is not None and committed + estimate_usd > self.budget_usd:
                raise BudgetExceeded(
                    f"{what} (estimated ${estimate_usd:.4f}) would take this run past "
                    f"{BUDGET_SETTING}=${self.budget_usd:.2f} (${committed:.4f} spent or in flight on "
                    f"{self.calls} calls): raise the budget, narrow the range, or enable batch mode. Answers "
                    "already paid for are in the response cache, so a rerun does not pay for them again."
                )
            self._reserved_usd += estimate_usd
            return estimate_usd

    def settle(self, reserved_usd: float, billed_usd: float, calls: int = 1) -> None:
        """Replace a reservation by what the calls were billed (0 when they failed before any answer)."""
        with self._lock:
            self._reserved_usd -= reserved_usd
            self.spent_usd += billed_usd
            self.calls += calls


# Output tokens of one metric's answer, for estimates made before calling. Most answers on a day used to be null
# with a one-line reason; readings add a quote, reasoning, assumptions and their period, and every answer its
# (usually empty) injection_source_ids. Measured through the local server: 56 a metric on the demo quarter
# before answers carried periods and injection ids (prompt 2026-12-01.1); 73 since (2026-12-01.2). Since a metric
# is asked only where a source names it (prompt 2026-12-01.3, plausibility.py) fewer answers are null: 90 on the
# demo quarter (40,451 output tokens over 189 calls asking 442 metrics). A call adds the JSON envelope.
EXPECTED_OUTPUT_TOKENS_PER_METRIC = 90
OUTPUT_TOKENS_PER_CALL = 3


def expected_usage(question_tokens: int, asked: int, *, cache_read: int, cache_write: int) -> LlmUsage:
    """The usage a call is expected to bill: the cached prefixes it reads and writes (`PromptTokens.cache_split`),
    the question as plain input, and output as measured per metric."""
    return LlmUsage(
        input_tokens=question_tokens,
        cache_creation_input_tokens=cache_write,
        cache_read_input_tokens=cache_read,
        output_tokens=OUTPUT_TOKENS_PER_CALL + EXPECTED_OUTPUT_TOKENS_PER_METRIC * asked,
    )
