"""Data: inputs and targets (Data, Task), the task constructors, and the quadrature rules."""
