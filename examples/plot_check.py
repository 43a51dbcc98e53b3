"""
A gradient check with a bug
===========================

``dfdx.check_gradient`` compares a hand-written gradient with dfdx's numerical one, entry
by entry, and ``dfdx.plot.check`` draws the report: the relative error of each entry
against the tolerance that dfdx derives from its error estimate. The gradient below has
one entry off by 0.1 %.
"""

import matplotlib.pyplot as plt
import numpy as np

import dfdx
import dfdx.plot


def f(x):
    return np.sum(x**2 * np.arange(1, x.size + 1)) + np.sin(x[0] * x[1])


def buggy_gradient(x):
    g = 2 * x * np.arange(1, x.size + 1)
    g[0] += x[1] * np.cos(x[0] * x[1])
    g[1] += x[0] * np.cos(x[0] * x[1])
    g[4] *= 1.001  # the bug: 0.1 % off
    return g


report = dfdx.check_gradient(f, buggy_gradient, np.linspace(0.5, 2.0, 8))
print(report.verdict, report.mismatches)
dfdx.plot.check(report)
plt.show()
