"""Median error of forward and central differences of sin(x) + noise at x = 1.

    python docs/noise_steps.py

Noise of standard deviation 1e-6 is added to every evaluation; each line is the median
absolute error over 4000 repetitions, at the textbook step for smooth functions and at
the step that balances truncation against noise. The table in docs/noisy.md is this
script's output. Plain NumPy, so that it measures the formulas, not dfdx.
"""

import numpy as np

rng = np.random.default_rng(0)
sigma, x, exact = 1e-6, 1.0, np.cos(1.0)


def f(t):
    return np.sin(t) + sigma * rng.standard_normal(np.shape(t))


def med(fn, reps=4000):
    return np.median([abs(fn() - exact) for _ in range(reps)])


hf = 8**0.25 * np.sqrt(sigma / abs(np.sin(x)))
hc = 3 ** (1 / 3) * (sigma / abs(np.cos(x))) ** (1 / 3)
for name, _step, fn in [
    ("forward, h = 1.5e-8 (sqrt(eps))", 1.5e-8, lambda h=1.5e-8: (f(x + h) - f(x)) / h),
    (f"forward, noise-aware h = {hf:.2g}", hf, lambda h=hf: (f(x + h) - f(x)) / h),
    ("central, h = 6.1e-6 (eps^(1/3))", 6.1e-6, lambda h=6.1e-6: (f(x + h) - f(x - h)) / (2 * h)),
    (f"central, noise-aware h = {hc:.2g}", hc, lambda h=hc: (f(x + h) - f(x - h)) / (2 * h)),
]:
    print(f"| {name} | {med(fn):.1e} |")
