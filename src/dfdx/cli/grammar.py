"""The grammar of command-line expressions: what may appear, and the error that refuses the rest.

:mod:`dfdx.cli.expressions` compiles a syntax tree against these tables: the functions
(NumPy's, and SciPy's ``erf``/``erfc``, all complex-safe), the constants, the operators,
and the names of the refused syntax used in its messages.
"""

from __future__ import annotations

import ast
import importlib
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ExpressionError",
    "FUNCTIONS",
    "CONSTANTS",
    "BINARY",
    "UNARY",
    "LITERALS",
    "REFUSED",
    "MAX_LENGTH",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "Node",
]

#: Longest accepted text; Python's parser itself gives up on nesting far below this.
MAX_LENGTH = 5000
#: Deepest accepted nesting (each level is one Python call when evaluating). Chains such
#: as ``a + b - c + ...`` do not nest: they are compiled into one loop.
MAX_DEPTH = 64
#: Largest accepted |exponent| of a constant power. Beyond it any base above 2
#: overflows float64, so such a number is a typo or an attack, not a function.
MAX_EXPONENT = 1024

Node = Callable[[Sequence[Any]], Any]
_special: Any = importlib.import_module("scipy.special")  # erf and erfc, complex-safe

FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    **{
        name: (getattr(np, name), 1)
        for name in (
            "sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh "
            "exp expm1 exp2 log log2 log10 log1p sqrt cbrt square abs sign"
        ).split()
    },
    **{alias: (getattr(np, "arc" + alias[1:]), 1) for alias in "asin acos atan asinh acosh atanh".split()},
    "ln": (np.log, 1),
    "erf": (_special.erf, 1),
    "erfc": (_special.erfc, 1),
    "arctan2": (np.arctan2, 2),
    "atan2": (np.arctan2, 2),
    "hypot": (np.hypot, 2),
    "maximum": (np.maximum, 2),
    "minimum": (np.minimum, 2),
}
CONSTANTS: dict[str, float] = {"pi": float(np.pi), "e": float(np.e), "tau": float(2 * np.pi)}

BINARY: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.Pow: ("**", operator.pow),
}
UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
LITERALS = {
    str: "strings",
    bytes: "bytes",
    complex: "complex numbers",
    bool: "True and False",
    type(None): "None",
    type(...): "`...`",
}
REFUSED = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Lambda: "lambda",
    ast.Compare: "comparisons",
    ast.BoolOp: "`and`/`or`",
    ast.IfExp: "conditional expressions",
    ast.NamedExpr: "assignment",
    ast.Starred: "unpacking",
    ast.JoinedStr: "strings",
    ast.Dict: "dictionaries",
    ast.Set: "sets",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


class ExpressionError(ValueError):
    """An expression that is not accepted; the message quotes the offending part.

    Attributes
    ----------
    text : str
        The whole expression.
    start, end : int or None
        Column range (0-based, end exclusive) of the offending part, if known.
    """

    def __init__(self, reason: str, text: str, start: int | None = None, end: int | None = None):
        self.reason, self.text, self.start, self.end = reason, text, start, end
        if start is None:
            message = reason
        else:
            stop = end if end is not None and end > start else start + 1
            snippet = text[start:stop]
            snippet = snippet if len(snippet) <= 40 else snippet[:37] + "..."
            snippet = "".join(c if c.isprintable() else repr(c)[1:-1] for c in snippet)
            message = f"{reason}: `{snippet}` at column {start + 1}"
        super().__init__(message)

    def caret(self) -> str:
        """The expression with the offending part underlined (two lines)."""
        if self.start is None or len(self.text) > 200:
            return str(self)
        width = max(1, (self.end or self.start + 1) - self.start)
        return f"{self.text}\n{' ' * self.start}{'^' * width}"
