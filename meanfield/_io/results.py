"""Results folders: what a solve leaves on disk, written so that no file is ever half-written.

A results folder holds

* ``config.toml``   -- the normalised config (every default filled in) that reproduces the run;
* ``arrays.npz``    -- particles (theta, weights, input weights w), the prior cloud (prior_w), the
  background field, the discrepancy/residual, ``history_<name>`` arrays, and the train/test
  inputs, targets and predictions;
* ``neurons.png``, ``convergence.png``, ``predictions.png`` -- figures;
* ``summary.json``  -- `Solution.summary()` plus the free energy (when computed: its value,
  error bar, ``free_energy_method``, the equilibrium gap of `meanfield.FreeEnergy` and, for the
  ladder, its number of levels and smallest swap rate), seed, wall time, package versions and
  the git revision of the package's checkout.

Each file is written to a temporary sibling and moved into place with `os.replace`, and
``summary.json`` is written last, after removing any old one: a folder without it is incomplete
(an interrupted write) and `load_results` says so.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from .._misc import atomic_write as _atomic_write, jsonable, write_text
from .._solver.solution import safe_summary

FIGURES = ("neurons", "convergence", "predictions")


class ResultsError(ValueError):
    """A results folder is missing, incomplete or corrupt."""


class OutputError(ValueError):
    """A results folder cannot be created or written (a file in the way, no permission, a
    read-only or full disk); the message names the option, the path and what would work."""


_ERRNO_HINTS = {
    errno.EACCES: "permission denied: you may not write there",
    errno.EPERM: "operation not permitted: you may not write there",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a file of that name is in the way",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ENOENT: "the folder cannot be created there (a virtual file system such as /proc or "
                  "/sys, or a parent that vanished)",
    errno.EISDIR: "a folder is in the way of a file",
    errno.EIO: "an input/output error of the disk",
}


def os_error_message(err: OSError, option: str = "--out") -> str:
    """One line for an `OSError` met while writing results: what failed, why, and what to do."""
    path = err.filename if err.filename is not None else "the results folder"
    why = _ERRNO_HINTS.get(err.errno, err.strerror or str(err))
    code = errno.errorcode.get(err.errno, "")
    fix = ("free some space or choose a folder on another disk" if err.errno in (errno.ENOSPC,
                                                                                  errno.EDQUOT)
           else "choose a folder you can write to")
    return (f"{option}: cannot write {str(path)!r}: {why}{f' ({code})' if code else ''}; {fix} "
            f"with {option} DIR")


def check_output_folder(folder, option: str = "--out") -> Path:
    """Check that the results folder `folder` can be created and written, before any compute
    starts: create it (and its parents) and write and remove a probe file in it. Raises
    `OutputError` naming `option`, the path and what would work; returns the folder as a Path.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{option}: {str(folder)!r} exists and is a file, not a folder; give "
                          "a folder (it is created if needed)")
    for parent in folder.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{option}: {str(folder)!r} lies under {str(parent)!r}, which "
                                  "is a file, not a folder; give a folder path")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".meanfield-write-test.", suffix=".tmp")
        try:
            os.write(fd, b"meanfield")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.remove(probe)
    except OSError as err:
        if err.filename is None or str(err.filename).startswith(str(folder / ".meanfield")):
            err.filename = str(folder)
        raise OutputError(os_error_message(err, option)) from None
    return folder


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("jax", "jaxlib", "equinox", "numpy", "meanfield"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def git_revision() -> str | None:
    """`git rev-parse HEAD` of the checkout holding this package, or None."""
    here = Path(__file__).resolve().parent
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    rev = res.stdout.strip()
    return rev if res.returncode == 0 and rev else None


def solution_arrays(solution, prior_w=None) -> dict:
    """The arrays of a solution, as saved in arrays.npz."""
    from .figures import neuron_weights

    problem = solution.problem
    out = {
        "theta": np.asarray(solution.particles.theta),
        "weights": np.asarray(solution.particles.weights),
        "w": neuron_weights(problem, solution.particles.theta),
        "field": np.asarray(solution.field),
    }
    if prior_w is not None:
        out["prior_w"] = np.asarray(prior_w)
    bg = solution.background
    if bg is not None:
        if hasattr(bg, "discrepancy"):
            out["discrepancy"] = np.asarray(bg.discrepancy)
        if hasattr(bg, "residual"):
            out["residual"] = np.asarray(bg.residual)
    for k, v in solution.history.items():
        out[f"history_{k}"] = np.asarray(v)
    for split in ("train", "test"):
        data = getattr(problem.task, split)
        out[f"x_{split}"] = np.asarray(data.x)
        out[f"y_{split}"] = np.asarray(data.y)
        try:
            pred = np.asarray(solution.predict(data.x))
        except Exception:  # a failed solve may lack a background
            pred = np.full(np.asarray(data.y).shape, np.nan)
        out[f"{split}_prediction"] = pred
    return out


def build_summary(solution, *, free_energy=None, seed=None, wall_time=None,
                  extra: dict | None = None) -> dict:
    summary = safe_summary(solution)
    if free_energy is not None:
        summary["free_energy"] = float(free_energy.value)
        summary["free_energy_stderr"] = float(free_energy.stderr)
        summary["free_energy_method"] = free_energy.method
        summary["free_energy_equilibrium_gap"] = float(free_energy.equilibrium_gap)
        summary["free_energy_equilibrium_gap_stderr"] = float(free_energy.equilibrium_gap_stderr)
        summary["free_energy_equilibrated"] = free_energy.equilibrated
        ladder = free_energy.details
        if ladder is not None:  # method 'ladder': how long it was and how well it mixed
            summary["free_energy_levels"] = ladder.n_levels
            summary["free_energy_min_swap_rate"] = ladder.min_swap_rate
    summary["seed"] = seed if seed is not None else solution.seed
    summary["wall_time_s"] = wall_time
    summary["problem"] = type(solution.problem).__name__
    summary["task"] = getattr(solution.problem.task, "name", None)
    summary["versions"] = versions()
    summary["git_revision"] = git_revision()
    if extra:
        summary.update(extra)
    return jsonable(summary)


def write_figures(solution, folder, prior_w=None) -> list[str]:
    """Draw the figures of `solution` into `folder` (each PNG written atomically)."""
    from .figures import plot_convergence, plot_neurons, plot_predictions

    folder = Path(folder)
    figs = {
        "neurons": lambda: plot_neurons(solution, prior_particles=None) if prior_w is None
        else _neurons_with_prior_w(solution, prior_w),
        "convergence": lambda: plot_convergence(solution),
        "predictions": lambda: plot_predictions(solution),
    }
    written = []
    for name, make in figs.items():
        fig = make()
        _atomic_write(folder / f"{name}.png", lambda fh, fig=fig: fig.savefig(fh, format="png",
                                                                               dpi=110))
        written.append(f"{name}.png")
    return written


def _neurons_with_prior_w(solution, prior_w):
    from .figures import plot_neurons

    problem = solution.problem
    # invert the weight map where it is linear (Bayesian: w = scale * z); training: theta = (w, 0)
    if hasattr(problem, "input_weights"):
        theta = np.asarray(prior_w) / problem.prior_scale
    else:
        c = problem.data.n_outputs
        theta = np.concatenate([np.asarray(prior_w), np.zeros((len(prior_w), c))], axis=1)
    return plot_neurons(solution, prior_particles=theta)


def write_results(folder, solution, config: dict, *, free_energy=None, seed=None,
                  wall_time=None, figures: bool = True, extra: dict | None = None) -> dict:
    """Write a results folder (see the module docstring); returns the summary dict."""
    from .config import config_to_toml
    from .figures import prior_weights

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    summary_path = folder / "summary.json"
    if summary_path.exists():
        summary_path.unlink()  # the folder is incomplete until the new summary is in place
    write_text(folder / "config.toml", config_to_toml(config))
    prior_w = prior_weights(solution.problem, solution.particles.n_particles,
                            seed=(seed or 0) + 12345)
    arrays = solution_arrays(solution, prior_w)
    _atomic_write(folder / "arrays.npz", lambda fh: np.savez_compressed(fh, **arrays))
    files = ["config.toml", "arrays.npz"]
    if figures:
        files += write_figures(solution, folder, prior_w)
    summary = build_summary(solution, free_energy=free_energy, seed=seed, wall_time=wall_time,
                            extra=extra)
    summary["files"] = files + ["summary.json"]
    write_text(summary_path, json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return summary


@dataclass
class Results:
    """A reopened results folder."""

    path: Path
    config: dict
    summary: dict
    arrays: dict

    def solution(self):
        """Rebuild the `Solution` (problem from config.toml, particles and field from arrays)."""
        import jax.numpy as jnp

        from .config import parse_config
        from .._model.particles import Particles
        from .._solver.solution import Solution

        problem, solver, seed, _ = parse_config(self.config, base_dir=self.path)
        field = jnp.asarray(self.arrays["field"])
        try:
            background = problem.background(field)
        except Exception:
            background = None
        history = {k[len("history_"):]: v for k, v in self.arrays.items()
                   if k.startswith("history_")}
        s = self.summary

        def num(key):
            v = s.get(key)
            return float("nan") if v is None else float(v)

        return Solution(
            problem=problem,
            particles=Particles(jnp.asarray(self.arrays["theta"]),
                                jnp.asarray(self.arrays["weights"])),
            field=field, background=background, status=s.get("status", "unknown"),
            message=s.get("message", ""), iterations=int(s.get("iterations", 0)),
            self_consistency_error=num("self_consistency_error"),
            noise_floor=num("noise_floor"), history=history, seed=s.get("seed", seed),
            solver=solver, certificate=num("certificate"),
            certificate_noise=num("certificate_noise"),
        )


def load_results(folder) -> Results:
    """Reopen a results folder written by `write_results`.

    Raises:
        ResultsError: the folder is missing, incomplete (no summary.json: an interrupted write)
            or a file in it is corrupt.
    """
    import tomllib

    folder = Path(folder)
    if not folder.is_dir():
        raise ResultsError(f"results folder {str(folder)!r} does not exist")
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise ResultsError(f"{str(folder)!r} is not a complete results folder: summary.json is "
                           "missing (the run was interrupted before it finished writing, or "
                           "this is not a results folder)")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{str(summary_path)!r} is corrupt: {err}") from err
    if not isinstance(summary, dict):
        raise ResultsError(f"{str(summary_path)!r} is corrupt: not a JSON object")
    try:
        config = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{str(folder)!r} lacks config.toml") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ResultsError(f"{str(folder / 'config.toml')!r} is corrupt: {err}") from err
    try:
        with np.load(folder / "arrays.npz", allow_pickle=False) as f:
            arrays = {k: np.asarray(f[k]) for k in f.files}
    except FileNotFoundError:
        raise ResultsError(f"{str(folder)!r} lacks arrays.npz") from None
    except Exception as err:
        raise ResultsError(f"{str(folder / 'arrays.npz')!r} is corrupt: {err}") from err
    for key in ("theta", "weights", "field"):
        if key not in arrays:
            raise ResultsError(f"{str(folder / 'arrays.npz')!r} lacks the array {key!r}")
    return Results(folder, config, summary, arrays)


def write_experiment(folder, name: str, payload: dict, *, config: dict, seed=None,
                     figures: dict | None = None, arrays: dict | None = None,
                     wall_time=None) -> dict:
    """Write an experiment's results folder: `NAME.json`, `config.json`, arrays and figures.

    Every file is written atomically; `NAME.json` goes last, so a folder without it is an
    interrupted write. The JSON carries `payload` plus the config, seed, package versions and git
    revision. `figures` maps file stems to matplotlib figures (saved as PNG); `arrays` is saved as
    `arrays.npz`. Returns the JSON dict written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out_path = folder / f"{name}.json"
    if out_path.exists():
        out_path.unlink()
    write_text(folder / "config.json", json.dumps(jsonable(config), indent=2) + "\n")
    files = ["config.json"]
    if arrays:
        _atomic_write(folder / "arrays.npz", lambda fh: np.savez_compressed(fh, **arrays))
        files.append("arrays.npz")
    for stem, fig in (figures or {}).items():
        _atomic_write(folder / f"{stem}.png",
                      lambda fh, fig=fig: fig.savefig(fh, format="png", dpi=110))
        files.append(f"{stem}.png")
    record = jsonable({**payload, "config": config, "seed": seed, "wall_time_s": wall_time,
                       "versions": versions(), "git_revision": git_revision(),
                       "files": files + [f"{name}.json"]})
    write_text(out_path, json.dumps(record, indent=2, allow_nan=False) + "\n")
    return record
