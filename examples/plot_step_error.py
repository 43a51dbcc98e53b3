"""
Error versus step
=================

``dfdx.plot.step_error`` draws the error of each finite-difference method against the
step h, for a function whose derivative is known: the classic test function of Lyness
and Moler (1967), f(x) = eˣ / √(sin³x + cos³x), at x = 1.5.

On the right, truncation: straight lines whose slope is the order of the method. On the
left, rounding: noise that grows like 1/h. dfdx's automatic step (the marked points) sits
where the two meet. The complex step has no rounding term and reaches full precision at
any small step.
"""

import matplotlib.pyplot as plt
import numpy as np

import dfdx.plot


def lyness_moler(x):
    return np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)


ax = dfdx.plot.step_error(lyness_moler, 1.5, exact=4.053427893898620657714)
ax.set_title("Error versus step for f(x) = eˣ / √(sin³x + cos³x) at x = 1.5")
plt.show()
