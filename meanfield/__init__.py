"""meanfield: the mean-field theory of wide two-layer networks, solved with particles."""

import jax as _jax

# Precision policy: kernels, discrepancies and free energies are computed in float64 (kernel
# solves lose digits in float32); particle steps may run in float32 when a solver asks for it.
_jax.config.update("jax_enable_x64", True)

from ._model.activations import (
    ACTIVATION_NAMES as ACTIVATION_NAMES,
    Activation as Activation,
    ClippedReLU as ClippedReLU,
    Erf as Erf,
    HardTanh as HardTanh,
    Identity as Identity,
    Quadratic as Quadratic,
    ReLU as ReLU,
    Tanh as Tanh,
    activation_from_name as activation_from_name,
)
from ._data.data import Data as Data, Task as Task
from ._observables.kernels import (
    empirical_nngp_kernel as empirical_nngp_kernel,
    empirical_ntk_kernel as empirical_ntk_kernel,
    gp_posterior as gp_posterior,
    nngp_kernel as nngp_kernel,
    ntk_kernel as ntk_kernel,
)

__version__ = "0.1.0"
from ._data.tasks import (
    cubic_teacher as cubic_teacher,
    finite_dataset as finite_dataset,
    gaussian_inputs as gaussian_inputs,
    modular_addition as modular_addition,
    modular_addition_pairs as modular_addition_pairs,
    modular_addition_split as modular_addition_split,
    named_target as named_target,
)
from ._model.particles import Particles as Particles
from ._model.bayesian import (
    BayesianBackground as BayesianBackground,
    BayesianProblem as BayesianProblem,
    CavityAction as CavityAction,
    LinearisedAction as LinearisedAction,
)
from ._model.dynamics import (
    ResidualBackground as ResidualBackground,
    TrainingProblem as TrainingProblem,
    TrainingRun as TrainingRun,
    train_network as train_network,
)
from ._solver.foreground import (
    GradientDescent as GradientDescent,
    Grid as Grid,
    Langevin as Langevin,
    Tempering as Tempering,
)
from ._solver.mixing import Anderson as Anderson, Damped as Damped
from ._solver.solution import Solution as Solution, SolveError as SolveError, Status as Status
from ._solver.solve import FixedPoint as FixedPoint, solve as solve
from ._solver.free_energy import (
    FreeEnergy as FreeEnergy,
    Ladder as Ladder,
    LogPartition as LogPartition,
    free_energy as free_energy,
    log_partition_ladder as log_partition_ladder,
)
from ._io.config import (
    DEFAULT_CONFIG as DEFAULT_CONFIG,
    Config as Config,
    ConfigError as ConfigError,
    config_to_toml as config_to_toml,
    load_config as load_config,
    parse_config as parse_config,
)
from ._io.results import (
    Results as Results,
    ResultsError as ResultsError,
    load_results as load_results,
    write_results as write_results,
)
from ._io.figures import (
    plot_convergence as plot_convergence,
    plot_neurons as plot_neurons,
    plot_predictions as plot_predictions,
)
from ._observables.hermite import (
    fit_hermite_decay as fit_hermite_decay,
    hermite_coefficients as hermite_coefficients,
    hermite_normalised as hermite_normalised,
    network_hermite_spectrum as network_hermite_spectrum,
    tanh_decay_rate as tanh_decay_rate,
)
from ._apps.llc.estimator import (
    SGLD as SGLD,
    ReducedRankRegression as ReducedRankRegression,
    aoyagi_watanabe_rlct as aoyagi_watanabe_rlct,
    calibrate_step_size as calibrate_step_size,
    estimate_llc as estimate_llc,
    hessian_preconditioner as hessian_preconditioner,
)
from ._apps.llc.learning_zero import (
    TanhNet as TanhNet,
    fit_growth_laws as fit_growth_laws,
    marginal_llc as marginal_llc,
    plot_llc_experiment as plot_llc_experiment,
    run_llc_experiment as run_llc_experiment,
)
from ._solver.sweep import SweepResult as SweepResult, crossing as crossing, sweep as sweep
from ._apps.grokking.theory import ModularTheory as ModularTheory
from ._apps.cubic_teacher import CubicTeacherTheory as CubicTeacherTheory
from ._apps.grokking.fourier_modes import (
    FourierModePoint as FourierModePoint,
    FourierModeTheory as FourierModeTheory,
)
from ._observables.fourier import (
    dominant_frequency as dominant_frequency,
    fourier_power as fourier_power,
    fourier_summary as fourier_summary,
    implied_readout as implied_readout,
    inverse_participation_ratio as inverse_participation_ratio,
    phase_relation as phase_relation,
    single_frequency_fraction as single_frequency_fraction,
    specialised_mask as specialised_mask,
)
from ._observables.distances import (
    maximum_mean_discrepancy as maximum_mean_discrepancy,
    sliced_wasserstein as sliced_wasserstein,
    sphere_directions as sphere_directions,
)
from ._apps.clover import (
    CloverResult as CloverResult,
    CloverSetting as CloverSetting,
    plot_clover as plot_clover,
    plot_other_pairs as plot_other_pairs,
    random_feature_background as random_feature_background,
    run_clover as run_clover,
    train_foreground as train_foreground,
)
from ._baselines.predictors import (
    KernelPrediction as KernelPrediction,
    classification_accuracy as classification_accuracy,
    kernel_alignment as kernel_alignment,
    nngp_predictor as nngp_predictor,
    ntk_predictor as ntk_predictor,
    regression_loss as regression_loss,
)
from ._observables.mcmc_diagnostics import (
    effective_sample_size as effective_sample_size,
    split_rhat as split_rhat,
)
from ._baselines.posterior import (
    NetworkPosterior as NetworkPosterior,
    PosteriorLangevin as PosteriorLangevin,
    PosteriorSamples as PosteriorSamples,
    sample_posterior as sample_posterior,
)
from ._baselines.training import TrainedNetwork as TrainedNetwork, train as train
from ._baselines.compare import compare as compare, fit_power_law as fit_power_law
from ._apps.grokking.sweep import (
    GrokkingSweep as GrokkingSweep,
    default_grokking_solver as default_grokking_solver,
    grokking_sweep as grokking_sweep,
    plot_grokking_sweep as plot_grokking_sweep,
)
from ._apps.grokking.seed import fourier_seeded_weights as fourier_seeded_weights
from ._apps.grokking.transition import chains_mixed as chains_mixed
