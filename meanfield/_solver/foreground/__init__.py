"""Foregrounds: how particles move against a frozen background (`AbstractForeground`).

* `Langevin` (langevin.py): MALA/ULA sampling of exp(-U), one chain per particle.
* `Tempering` (tempering.py): replica exchange in temperature across basins.
* `GradientDescent` (gradient_descent.py): zero temperature.
* `Grid` (grid.py): the exact quadrature reference for neurons with p <= 2 parameters.
* mala.py: THE MALA kernel (`mala_step`) and step-size rule (`adapt_step_size`) that every
  Langevin sampler of the package uses.
"""

from .base import AbstractForeground as AbstractForeground
from .gradient_descent import GradientDescent as GradientDescent
from .grid import Grid as Grid
from .langevin import Langevin as Langevin, LangevinState as LangevinState
from .langevin import langevin_steps as langevin_steps
from .mala import (
    MALAInfo as MALAInfo,
    MALAState as MALAState,
    adapt_step_size as adapt_step_size,
    mala_chain as mala_chain,
    mala_init as mala_init,
    mala_step as mala_step,
)
from .tempering import Tempering as Tempering, TemperingState as TemperingState
