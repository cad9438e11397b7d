"""Baselines the mean field is checked against: NNGP/NTK predictors, finite-width posterior sampling and training, and their comparison with the mean field."""
