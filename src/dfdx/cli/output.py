"""What the command line prints: the text of a command, or one JSON document.

Every run of ``dfdx ... --json`` prints exactly one JSON object on stdout, whatever the
outcome (success, a failed check, a mistake in the input, an error raised by f), with
the keys of :data:`COMMON_KEYS` and the command's own keys (docs/cli.md lists them):

``schema``
    The version of this layout, :data:`SCHEMA`; it changes only when a key changes
    meaning or disappears.
``command``
    The subcommand (``"gradient"``, ``"check"``, ...), or null when the command line
    could not be read far enough to know it.
``exit_code``
    The process's exit code: 0 success, 1 a failed check or differentiation, 2 a
    mistake in the input or an error raised by f, 130 interrupted.
``error``
    null, or ``{"type": ..., "message": ...}``: ``type`` is ``"usage"`` for a mistake in
    the command line or its input, ``"interrupted"``, or the name of the exception
    raised (``"ValueError"``, ``"ZeroDivisionError"``, ...); the message is one line.

NaN and infinities in numbers become null (strict JSON).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SCHEMA", "COMMON_KEYS", "Outcome", "document", "error_info", "plain", "result_fields"]

#: Version of the JSON layout.
SCHEMA = 1
#: Keys of every JSON document, in this order, before the command's own.
COMMON_KEYS = ("schema", "command", "exit_code", "error")


@dataclass(frozen=True)
class Outcome:
    """What a command produced: its exit code, its text, and its JSON fields."""

    code: int
    text: str
    data: dict[str, Any] = field(default_factory=dict)


def document(
    command: str | None, exit_code: int, data: dict[str, Any] | None = None, error: Any = None
) -> str:
    """One JSON document: the common keys, then `data`."""
    out: dict[str, Any] = {"schema": SCHEMA, "command": command, "exit_code": exit_code, "error": error}
    out.update(data or {})
    return json.dumps(out, allow_nan=False)


def error_info(kind: str, message: str) -> dict[str, str]:
    """The ``error`` field: `kind` is ``"usage"``, ``"interrupted"`` or an exception's name."""
    return {"type": kind, "message": message}


def plain(a: Any) -> Any:
    """Nested lists of floats, with NaN and inf as null (strict JSON)."""
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 0:
        v = float(arr)
        return v if math.isfinite(v) else None
    return [plain(row) for row in arr]


def result_fields(text: str, labels: tuple[str, ...], x: Any, res: Any) -> dict[str, Any]:
    """The fields of a differentiation for its JSON document: the target, and ``result``."""
    return {
        "target": text,
        "variables": list(labels),
        "point": plain(x),
        "result": {
            "value": plain(res.value),
            "error": plain(res.error),
            "step": plain(res.step),
            "nfev": int(res.nfev),
            "status": res.status.name,
            "success": bool(res.success),
            "message": res.message,
            "method": res.method,
            "accuracy": int(res.accuracy),
            "noise": None if res.noise is None else plain(res.noise),
        },
    }
