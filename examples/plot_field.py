"""
A gradient field
================

With ``field=True``, ``dfdx.plot.contour`` adds the gradient on a grid of points, each
arrow computed by ``dfdx.gradient``: the arrows cross the level lines at right angles
and grow with the slope.
"""

import matplotlib.pyplot as plt
from model import loss

import dfdx.plot

ax = dfdx.plot.contour(loss, [1.0, 1.0], extent=(-1, 3, -1, 3), names=("w1", "w2"), field=True, label="L")
ax.set_title("The gradient field of L(w1, w2)")
plt.show()
