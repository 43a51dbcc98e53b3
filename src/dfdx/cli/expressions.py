"""Safe arithmetic expressions for the command line.

``compile_expression("(2*w1 + 3*w2 - 5)**2 + sin(w1)")`` parses the text with
:func:`ast.parse` (which builds a syntax tree and runs nothing), checks every node
against a whitelist -- numbers, variables, ``+ - * / **``, unary signs, calls of
NumPy's elementary functions, the constants ``pi``, ``e`` and ``tau``, and a tuple
at the top for vector-valued expressions -- and turns the tree into nested closures
over NumPy, compiled once and then evaluated per point. ``eval`` and ``exec`` are
never used; a name that is not a known function or constant is a variable, and
nothing is ever looked up in Python's namespaces.

Anything else, and sizes that are absurd (``9**9**9``, ``x**100000``, very long or
deeply nested text), is refused with :class:`ExpressionError`, whose one-line
message quotes the offending part and gives its column.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .grammar import (
    BINARY,
    CONSTANTS,
    FUNCTIONS,
    LITERALS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    REFUSED,
    UNARY,
    ExpressionError,
    Node,
)

__all__ = ["ExpressionError", "Expression", "compile_expression", "FUNCTIONS", "CONSTANTS"]

_SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)


def _column(line: str, byte_offset: int | None) -> int | None:
    """A character column from the parser's UTF-8 byte offset."""
    if byte_offset is None:
        return None
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def _is_chain(node: ast.AST) -> bool:
    """A link of a left-leaning chain of + - * / (not **, which nests to the right)."""
    return isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div))


def _operator_span(node: ast.BinOp) -> ast.AST:
    """A stand-in node covering just the operator between the two operands."""
    span = ast.Pass()
    span.col_offset = node.left.end_col_offset or node.col_offset
    span.end_col_offset = node.right.col_offset
    return span


@dataclass(frozen=True)
class _Compiled:
    """A compiled node: the closure, and its value if it is a constant."""

    run: Node
    constant: Any = None

    @property
    def is_constant(self) -> bool:
        return self.constant is not None


class _Compiler:
    """Walks a checked syntax tree once and returns nested closures over NumPy."""

    def __init__(self, text: str, offset: int) -> None:
        self.text, self.offset = text, offset  # offset: leading blanks the parser did not see
        self.variables: list[str] = []

    def refuse(self, reason: str, node: ast.AST) -> ExpressionError:
        line = self.text[self.offset :]
        start = _column(line, getattr(node, "col_offset", None))
        end = _column(line, getattr(node, "end_col_offset", None))
        if start is None:
            return ExpressionError(reason, self.text)
        if isinstance(node, ast.Pass):  # an operator's span: trim blanks and parentheses
            while end is not None and end > start + 1 and line[start] in " \t()":
                start += 1
            while end is not None and end > start + 1 and line[end - 1] in " \t()":
                end -= 1
        return ExpressionError(reason, self.text, start + self.offset, (end or start) + self.offset)

    def node(self, node: ast.AST) -> _Compiled:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.Tuple, ast.List)):
            raise self.refuse("a tuple is allowed only around the whole expression", node)
        what = REFUSED.get(type(node), f"`{type(node).__name__}` syntax")
        raise self.refuse(f"{what} cannot be used in an expression", node)

    def constant(self, node: ast.Constant) -> _Compiled:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = LITERALS.get(type(value), repr(value))
            raise self.refuse(f"{kind} cannot be used in an expression, only real numbers", node)
        if isinstance(value, float) and abs(value) < _SMALLEST_NORMAL and self.nonzero_literal(node):
            raise self.refuse(
                "this number is too small for float64: it underflows to "
                f"{'zero' if value == 0 else 'a subnormal number'} (the smallest normal one is "
                f"{_SMALLEST_NORMAL:.4g}); rescale the expression",
                node,
            )
        return self.folded(value, node)

    def nonzero_literal(self, node: ast.Constant) -> bool:
        """Whether the source of a number literal has a nonzero digit before its exponent."""
        line = self.text[self.offset :]
        start = _column(line, node.col_offset) or 0
        end = _column(line, node.end_col_offset) or len(line)
        mantissa = line[start:end].lower().split("e")[0]
        return any(c in "123456789" for c in mantissa)

    def folded(self, value: Any, node: ast.AST) -> _Compiled:
        try:
            number = float(value)
        except OverflowError:
            number = float("inf")
        if not np.isfinite(number):
            raise self.refuse("this number is too large or undefined (not a finite float64)", node)
        if isinstance(value, int) and abs(value) <= 2**53:
            number = int(value)  # keeps NumPy's fast integer powers
        return _Compiled(lambda env: number, number)

    def name(self, node: ast.Name) -> _Compiled:
        if node.id in CONSTANTS:
            return self.folded(CONSTANTS[node.id], node)
        if node.id in FUNCTIONS:
            raise self.refuse(f"`{node.id}` is a function; call it as {node.id}(...)", node)
        if node.id not in self.variables:
            self.variables.append(node.id)
        slot = self.variables.index(node.id)
        return _Compiled(lambda env: env[slot])

    def binary(self, node: ast.BinOp) -> _Compiled:
        if type(node.op) not in BINARY:
            hint = "; write `**` for a power" if isinstance(node.op, ast.BitXor) else ""
            raise self.refuse(f"this operator is not allowed (only + - * / **){hint}", _operator_span(node))
        if _is_chain(node) and _is_chain(node.left):
            return self.chain(node)
        left, right = self.node(node.left), self.node(node.right)
        symbol, op = BINARY[type(node.op)]
        if symbol == "**" and right.is_constant and abs(right.constant) > MAX_EXPONENT:
            raise self.refuse(f"the exponent is absurdly large (more than {MAX_EXPONENT})", node)
        if left.is_constant and right.is_constant:
            with np.errstate(all="ignore"):
                return self.folded(op(np.float64(left.constant), np.float64(right.constant)), node)
        lrun, rrun = left.run, right.run
        if right.is_constant:
            c = right.constant
            return _Compiled(lambda env: op(lrun(env), c))
        if left.is_constant:
            c = left.constant
            return _Compiled(lambda env: op(c, rrun(env)))
        return _Compiled(lambda env: op(lrun(env), rrun(env)))

    def chain(self, node: ast.BinOp) -> _Compiled:
        """``a + b - c * ...`` flattened along its left spine, evaluated by one loop."""
        links: list[tuple[Callable[[Any, Any], Any], ast.expr, ast.BinOp]] = []
        head: ast.expr = node
        while isinstance(head, ast.BinOp) and _is_chain(head):
            links.append((BINARY[type(head.op)][1], head.right, head))
            head = head.left
        links.reverse()
        first = self.node(head)
        rest = [(op, self.node(right), spine) for op, right, spine in links]
        # Fold the constant prefix (`2*3*x`), refusing it if it is not finite (`1/0 + x`).
        while rest and first.is_constant and rest[0][1].is_constant:
            op, right, spine = rest.pop(0)
            with np.errstate(all="ignore"):
                first = self.folded(op(np.float64(first.constant), np.float64(right.constant)), spine)
        if not rest:
            return first
        start, steps = first.run, [(op, r.run) for op, r, _ in rest]

        def run(env: Sequence[Any]) -> Any:
            value = start(env)
            for op, operand in steps:
                value = op(value, operand(env))
            return value

        return _Compiled(run)

    def unary(self, node: ast.UnaryOp) -> _Compiled:
        if type(node.op) not in UNARY:
            raise self.refuse("only the unary signs + and - are allowed", node)
        op, operand = UNARY[type(node.op)], self.node(node.operand)
        if operand.is_constant:
            return self.folded(op(operand.constant), node)
        run = operand.run
        return _Compiled(lambda env: op(run(env)))

    def call(self, node: ast.Call) -> _Compiled:
        if not isinstance(node.func, ast.Name):
            attr = getattr(node.func, "attr", None)
            hint = f"; write `{attr}(...)`" if attr in FUNCTIONS else ""
            raise self.refuse(f"only calls of plain function names are allowed{hint}", node.func)
        name = node.func.id
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            hint = (
                f"did you mean `{close[0]}`?"
                if close
                else f"the functions are {', '.join(sorted(FUNCTIONS))}"
            )
            raise self.refuse(f"unknown function `{name}` ({hint})", node.func)
        func, arity = FUNCTIONS[name]
        if node.keywords or len(node.args) != arity:
            raise self.refuse(f"`{name}` takes {arity} positional argument{'s' * (arity > 1)}", node)
        args = [self.node(a) for a in node.args]
        if all(a.is_constant for a in args):
            with np.errstate(all="ignore"):
                return self.folded(func(*(np.float64(a.constant) for a in args)), node)
        runs = [a.run for a in args]
        if arity == 1:
            (run,) = runs
            return _Compiled(lambda env: func(run(env)))
        first, second = runs
        return _Compiled(lambda env: func(first(env), second(env)))


def _stack(parts: list[Node]) -> Node:
    def run(env: Sequence[Any]) -> Any:
        return np.stack(np.broadcast_arrays(*(p(env) for p in parts)))

    return run


def _parse(text: str) -> tuple[ast.expr, int]:
    """The syntax tree of `text` and the number of leading blanks stripped before parsing."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, got {type(text).__name__}", "")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is too long ({len(text)} > {MAX_LENGTH} characters)", text)
    if not text.strip():
        raise ExpressionError("the expression is empty", text)
    offset = len(text) - len(text.lstrip())
    if "\n" in text or "\r" in text:
        raise ExpressionError(
            "the expression must be on one line", text, text.find("\n" if "\n" in text else "\r")
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = offset + max(0, (exc.offset or 1) - 1)
        reason = (exc.msg or "invalid syntax").split(" (")[0]
        if reason.startswith("Exceeds the limit"):  # Python's cap on the digits of an int
            reason = "a number with too many digits"
        raise ExpressionError(f"syntax error, {reason}", text, min(col, len(text) - 1)) from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise ExpressionError("the expression is too deeply nested or too large", text) from None
    # Depth is checked iteratively before the recursive compiler sees the tree.
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(f"the expression is nested too deeply (> {MAX_DEPTH} levels)", text)
        if _is_chain(node) and _is_chain(node.left):  # type: ignore[attr-defined]
            stack += [(node.left, depth), (node.right, depth + 1)]  # type: ignore[attr-defined]
            continue
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree.body, offset


@dataclass(frozen=True, eq=False)
class Expression:
    """A compiled expression. Build it with :func:`compile_expression`.

    Attributes
    ----------
    text : str
        The source text.
    variables : tuple of str
        Variable names in order of first appearance.
    size : int or None
        Number of components of a vector expression ``a, b, ...``; None if scalar.
    """

    text: str
    variables: tuple[str, ...]
    size: int | None
    _run: Node

    def __call__(self, *values: Any) -> Any:
        """Evaluate with one value (number or array) per variable, in `variables` order."""
        if len(values) != len(self.variables):
            raise TypeError(
                f"expected {len(self.variables)} values ({', '.join(self.variables)}), got {len(values)}"
            )
        return self._run(values)

    def function(
        self, names: Sequence[str] | None = None, *, elementwise: bool = False
    ) -> Callable[[Any], Any]:
        """``f(x)`` with ``x[i]`` bound to ``names[i]`` (default: `variables`).

        With ``elementwise=True`` the expression must have one variable, bound to the
        whole of x. The function pickles (as its text), so it can go to a process pool.
        """
        return _Bound(self, tuple(self.variables if names is None else names), elementwise)

    def __reduce__(self) -> tuple[Any, ...]:
        return compile_expression, (self.text,)


@dataclass(frozen=True)
class _Bound:
    expression: Expression
    names: tuple[str, ...]
    elementwise: bool

    def __post_init__(self) -> None:
        missing = [v for v in self.expression.variables if v not in self.names]
        if missing:
            raise ValueError(f"no value given for {', '.join(missing)}")
        if self.elementwise and len(self.names) != 1:
            raise ValueError("an elementwise expression must have exactly one variable")
        object.__setattr__(self, "_slots", [self.names.index(v) for v in self.expression.variables])

    def __call__(self, x: Any) -> Any:
        run = self.expression._run
        if self.elementwise:
            return run((x,))
        return run([x[i] for i in self._slots])  # type: ignore[attr-defined]


def compile_expression(text: str) -> Expression:
    """Parse and compile an arithmetic expression, safely.

    Parameters
    ----------
    text : str
        An expression such as ``"(2*w1 + 3*w2 - 5)**2 + sin(w1)"``, or several
        separated by commas for a vector-valued expression (``"x*y, x + y"``).

    Returns
    -------
    Expression
        Callable with one value per variable (in order of first appearance).

    Raises
    ------
    ExpressionError
        For anything outside the whitelist; the message quotes the offending part.

    Examples
    --------
    >>> from dfdx.cli.expressions import compile_expression
    >>> loss = compile_expression("(2*w1 + 3*w2 - 5)**2 + (w1 - w2 - 1)**2")
    >>> loss.variables
    ('w1', 'w2')
    >>> float(loss(1.0, 1.0))
    1.0
    >>> from dfdx.cli.expressions import ExpressionError
    >>> try:
    ...     compile_expression("x.__class__")
    ... except ExpressionError as exc:
    ...     print(exc)
    attribute access cannot be used in an expression: `x.__class__` at column 1
    """
    body, offset = _parse(text)
    compiler = _Compiler(text, offset)
    if isinstance(body, (ast.Tuple, ast.List)):
        if not body.elts:
            raise compiler.refuse("the expression is an empty tuple", body)
        parts = [compiler.node(e).run for e in body.elts]
        run, size = _stack(parts), len(parts)
    else:
        run, size = compiler.node(body).run, None
    return Expression(text, tuple(compiler.variables), size, run)
