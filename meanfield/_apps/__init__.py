"""Applications: clover-leaf clouds, grokking of modular addition, the cubic teacher, the local learning coefficient."""
