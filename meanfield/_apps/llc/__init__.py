"""The local learning coefficient of a wide net learning zero."""
