"""``max_evals=``: a cap on the points asked of f in one call, which the engine plans within."""

from __future__ import annotations

__all__ = ["Budget"]


class Budget:
    """At most `limit` points asked of f (``f(x)`` and points read from a store included).

    The evaluator spends it on every call and refuses a call beyond it; the engine
    consults it first (:meth:`afford`) and notes what it gave up (`notes`), which the
    result reports.

    Examples
    --------
    >>> b = Budget(10)
    >>> b.spend(3); b.afford(each=2, wanted=5), b.remaining, b.bound
    (3, 7, True)
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        #: True once the budget changed the plan (a cheaper stencil, refinement stopped).
        self.bound = False
        #: What the budget changed, in words, for the result's message.
        self.notes: list[str] = []

    @property
    def remaining(self) -> int:
        """Points that may still be asked for."""
        return self.limit - self.used

    def spend(self, count: int) -> None:
        """Count `count` points asked for; a ValueError if that goes past the limit."""
        if self.used + count > self.limit:
            raise ValueError(
                f"max_evals={self.limit} is spent: {self.used} points were used and {count} more "
                "are needed beyond the plan (one-sided retries where f is not finite). "
                "Raise max_evals."
            )
        self.used += count

    def afford(self, each: int, wanted: int) -> int:
        """How many of `wanted` items of `each` points fit in what remains (marks the budget bound)."""
        k = min(wanted, self.remaining // max(1, each))
        if k < wanted:
            self.bound = True
        return k

    def note(self, text: str) -> None:
        """Record that the budget changed the plan."""
        self.bound = True
        if text not in self.notes:
            self.notes.append(text)
