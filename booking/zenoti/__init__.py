"""Chairfill's Zenoti API client: typed results, one error hierarchy, retries that never
duplicate a write, and a rate-limit budget shared across processes. No Django imports here:
booking.services wires it to Centers, the cache and the call log."""

from . import errors, types
from .client import Timeouts, ZenotiClient
from .ratelimit import Budget, budget_key

__all__ = ["Budget", "Timeouts", "ZenotiClient", "budget_key", "errors", "types"]
