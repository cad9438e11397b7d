"""Grokking of modular addition: reduced theories, the alpha sweep, Fourier seeds."""
