"""
The contour of a loss and its gradient
======================================

``dfdx.plot.contour`` draws a function of two variables and the gradient that dfdx
computes at a point. Here it is the seed tutorial's loss
L(w1, w2) = (2 w1 + 3 w2 - 5)² + (w1 - w2 - 1)² at (1, 1), where the gradient is
(-2, 2); ``descent=True`` adds the direction of steepest descent.
"""

import matplotlib.pyplot as plt
from model import loss

import dfdx.plot

ax = dfdx.plot.contour(loss, [1.0, 1.0], extent=(-1, 3, -1, 3), names=("w1", "w2"), descent=True, label="L")
ax.set_title("L(w1, w2) and its gradient at (1, 1)")
plt.show()
