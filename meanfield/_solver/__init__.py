"""The solver: particles, foregrounds (how particles move against a frozen background), mixing, the fixed-point iteration, the solve driver, sweeps and free energies."""
