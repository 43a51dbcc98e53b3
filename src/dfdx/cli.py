"""Command line: ``dfdx demo`` (and more subcommands as they land).

``main(argv=None) -> int`` is the entry point of both ``dfdx`` and ``python -m dfdx``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np

from . import _api

__all__ = ["main"]


def seed_loss(w: np.ndarray) -> float:
    """The seed tutorial's loss ``L(w1, w2) = (2 w1 + 3 w2 - 5)^2 + (w1 - w2 - 1)^2``."""
    w1, w2 = w[0], w[1]
    return float((2 * w1 + 3 * w2 - 5) ** 2 + (w1 - w2 - 1) ** 2)


def seed_loss_gradient(w: np.ndarray) -> np.ndarray:
    """Its gradient by hand: ``(10 w1 + 10 w2 - 22, 10 w1 + 20 w2 - 28)``."""
    w1, w2 = w[0], w[1]
    return np.array([10 * w1 + 10 * w2 - 22, 10 * w1 + 20 * w2 - 28])


def _demo(args: argparse.Namespace) -> int:
    point = np.array([1.0, 1.0])
    res = _api.gradient(seed_loss, point)
    exact = seed_loss_gradient(point)
    difference = np.abs(res.value - exact)
    print("The seed tutorial's loss L(w1, w2) = (2 w1 + 3 w2 - 5)^2 + (w1 - w2 - 1)^2 at (1, 1)")
    print()
    print(f"{'':12}{'dL/dw1':>24}{'dL/dw2':>24}")
    print(f"{'dfdx':12}{res.value[0]:>24.17g}{res.value[1]:>24.17g}")
    print(f"{'analytic':12}{exact[0]:>24.17g}{exact[1]:>24.17g}")
    print(f"{'difference':12}{difference[0]:>24.2e}{difference[1]:>24.2e}")
    print(f"{'error est.':12}{res.error[0]:>24.2e}{res.error[1]:>24.2e}")
    print()
    covered = bool(np.all(difference <= res.error))
    print(f"method {res.method}, accuracy {res.accuracy}, {res.nfev} evaluations of L, "
          f"status {res.status.name}; the error estimate {'covers' if covered else 'MISSES'} "
          "the true difference.")
    print(f"Euclidean norm of the difference: {np.linalg.norm(difference):.2e} "
          "(the tutorial's own central difference with h = 1e-5: 1.9e-11)")
    return 0 if covered else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dfdx",
        description="Numerical derivatives with honest error estimates.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="the seed tutorial's example end to end",
        description="Gradient of the seed tutorial's loss at (1, 1), next to the analytic one.",
        epilog="example: dfdx demo",
    )
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
