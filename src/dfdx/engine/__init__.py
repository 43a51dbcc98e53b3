"""Points, evaluations and their combination into estimates: every estimator of dfdx."""
