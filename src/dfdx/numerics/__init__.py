"""Pure numerics: stencil weights, step rules, extrapolation and the error model.

Nothing here sees the user's function: every routine maps numbers to numbers and can be
tested alone.
"""
