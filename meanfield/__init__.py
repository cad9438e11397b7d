"""meanfield: the mean-field theory of wide two-layer networks, solved with particles."""

import jax as _jax

# Precision policy: kernels, discrepancies and free energies are computed in float64 (kernel
# solves lose digits in float32); particle steps may run in float32 when a solver asks for it.
_jax.config.update("jax_enable_x64", True)

from ._data import Data as Data, Task as Task

__version__ = "0.1.0"
