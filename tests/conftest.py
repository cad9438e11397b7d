"""Strict test settings: float64 everywhere and strict dtype promotion."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

import pytest  # noqa: E402


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)
