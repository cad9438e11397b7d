"""The model: activations and their kernels, the problems (Bayesian posterior, training dynamics) and their actions."""
