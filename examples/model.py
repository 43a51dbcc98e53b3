"""A small model for the command line: a loss, its gradient, a gradient with a bug, a noisy f.

From this folder::

    dfdx gradient model:loss --at 1,1
    dfdx check model:loss model:loss_grad --at 1,1    # passes, exit code 0
    dfdx check model:loss model:bad_grad --at 1,1     # fails, exit code 1
    dfdx gradient model:simulate --at 1,2 --noise auto

The loss is the seed tutorial's L(w1, w2) = (2 w1 + 3 w2 - 5)^2 + (w1 - w2 - 1)^2; each
function takes a NumPy array ``w`` of shape (2,), as for the Python API. `simulate` is
the noisy function of docs/noisy.md.
"""

from __future__ import annotations

import numpy as np


def loss(w: np.ndarray) -> float:
    """L(w1, w2) = (2 w1 + 3 w2 - 5)^2 + (w1 - w2 - 1)^2."""
    return float((2 * w[0] + 3 * w[1] - 5) ** 2 + (w[0] - w[1] - 1) ** 2)


def loss_grad(w: np.ndarray) -> np.ndarray:
    """The gradient of `loss`, worked out by hand."""
    return np.array([10 * w[0] + 10 * w[1] - 22, 10 * w[0] + 20 * w[1] - 28])


def bad_grad(w: np.ndarray) -> np.ndarray:
    """`loss_grad` with a typical slip: ``5 * w[0]`` instead of ``10 * w[0]`` in dL/dw2."""
    return np.array([10 * w[0] + 10 * w[1] - 22, 5 * w[0] + 20 * w[1] - 28])


_rng = np.random.default_rng(0)


def simulate(x: np.ndarray) -> float:
    """sin(x1) cos(x2) plus noise of standard deviation 1e-6, fresh at every call."""
    return float(np.sin(x[0]) * np.cos(x[1]) + 1e-6 * _rng.standard_normal())
