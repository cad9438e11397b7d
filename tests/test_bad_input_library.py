"""The library side of the bad-input probe (issue 15, item 5): what the commands rely on to turn
bad input into one clear error, checked directly."""

from __future__ import annotations

import errno
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meanfield as mf
from meanfield._io.results import OutputError, check_output_folder, os_error_message
from meanfield._misc import (
    MAX_SEED, ComputationError, ResourceError, as_key, check_budget, check_seed, format_bytes,
    format_seconds, memory_limit, time_limit,
)


@pytest.mark.parametrize("x,y,name", [
    (np.zeros((3, 0)), np.zeros(3), "x"),
    (np.zeros((3, 2)), np.zeros((3, 0)), "y"),
])
def test_data_with_zero_columns(x, y, name):
    with pytest.raises(ValueError, match=f"{name}.* at least one column"):
        mf.Data(x, y)
    with pytest.raises(ValueError, match=f"{name}_train must hold at least one column"):
        mf.finite_dataset(x, y)


@settings(max_examples=60, deadline=None)
@given(st.integers(-(2**80), 2**80))
def test_seeds(seed):
    if 0 <= seed <= MAX_SEED:
        assert check_seed("seed", seed) == seed
    else:
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\^62\]"):
            check_seed("seed", seed)
    if -(2**63) <= seed < 2**63:
        as_key(seed)
    else:
        with pytest.raises(ValueError, match="64 bits"):
            as_key(seed)


def test_output_folder_checks(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(OutputError, match="--out: .* is a file, not a folder"):
        check_output_folder(afile)
    with pytest.raises(OutputError, match="lies under .*afile.*which is a file"):
        check_output_folder(afile / "a" / "b", "--to")
    with pytest.raises(OutputError, match="/proc/meanfield_x.*cannot be created there"):
        check_output_folder("/proc/meanfield_x")
    assert check_output_folder(tmp_path / "new" / "deep").is_dir()

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OutputError, match=r"no space left on the device \(ENOSPC\); free some"):
        check_output_folder(tmp_path / "full")
    assert not any(p.name.startswith(".meanfield") for p in (tmp_path / "full").iterdir())


@pytest.mark.parametrize("code,words", [
    (errno.EACCES, "permission denied"), (errno.EROFS, "read-only"),
    (errno.ENOSPC, "no space left"), (errno.EDQUOT, "quota"), (errno.EIO, "input/output"),
])
def test_os_error_messages(code, words):
    msg = os_error_message(OSError(code, os.strerror(code), "/x/y"), "--out")
    assert msg.startswith("--out: cannot write '/x/y'") and words in msg
    assert errno.errorcode[code] in msg and "--out DIR" in msg


def test_budget(monkeypatch):
    monkeypatch.setenv("MEANFIELD_MEMORY_LIMIT", "1G")
    monkeypatch.setenv("MEANFIELD_TIME_LIMIT", "60")
    assert memory_limit() == 2**30 and time_limit() == 60
    with pytest.raises(ResourceError, match=r"about 2 GiB of memory, more than the 1 GiB.*"
                                            r"x <= 3 would fit.*MEANFIELD_MEMORY_LIMIT"):
        check_budget("this run", nbytes=2 * 2**30, fits="x <= 3 would fit")
    import meanfield._misc as misc

    monkeypatch.setattr(misc, "operations_per_second", lambda: 1.0)
    with pytest.raises(ResourceError, match="at least 2 min.*MEANFIELD_TIME_LIMIT"):
        check_budget("this run", operations=120)
    assert check_budget("this run", operations=30) == 30
    monkeypatch.setenv("MEANFIELD_TIME_LIMIT", "soon")
    with pytest.raises(ValueError, match="MEANFIELD_TIME_LIMIT='soon' is not a number"):
        time_limit()
    monkeypatch.delenv("MEANFIELD_MEMORY_LIMIT")
    assert 0 < memory_limit() < 2**60  # 80% of what is available now


def test_formatting():
    assert format_bytes(512) == "512 B" and format_bytes(3 * 2**30) == "3 GiB"
    assert format_seconds(40) == "40 s" and format_seconds(700) == "12 min"
    assert format_seconds(3 * 3600) == "3 h" and format_seconds(math.inf) == "forever"


def test_modular_theory_beyond_P_170():
    """The Gauss-Laguerre weights of the chi^2_{2P} expectation used to overflow at P ~ 170
    (no self-consistent root then); the normalised Golub-Welsch rule replaces them there, and
    agrees with scipy's where both work."""
    from scipy import special

    from meanfield._apps.grokking.theory import _normalised_laguerre

    from meanfield._apps.grokking.theory import _ChiSquareExpectation

    x, w = special.roots_genlaguerre(48, 100.0)
    x2, logw = _normalised_laguerre(48, 100.0)
    np.testing.assert_allclose(x2, x, rtol=1e-12)
    ref = np.log(w) - special.gammaln(101.0)
    top = ref > ref.max() - 25  # the weights that matter (the integrand is <= 1)
    np.testing.assert_allclose(logw[top], ref[top], atol=1e-8)
    chi = _ChiSquareExpectation(202, 1.0, 202)  # scipy's weights, as at P = 101
    s = np.array([0.0, 10.0, 300.0])
    expected = chi.log_expect(s)
    chi.x, chi.logw = x2, logw
    np.testing.assert_allclose(chi.log_expect(s), expected, rtol=1e-10)
    pt = mf.ModularTheory(P=201, width=100.0).solve(0.01, branches=False)
    assert 0.0 < pt.discrepancy < 1.0


def test_theory_without_root_is_a_computation_error():
    th = mf.ModularTheory(P=1_000_001, width=100.0)  # beyond what the reduction resolves
    with pytest.raises(ComputationError, match="self-consistency"):
        th.solve(0.01, branches=False)


def test_spectrum_fit_with_few_eigenvalues():
    from meanfield._apps.llc.learning_zero import spectrum_decay_fit

    for g in ([1.0], [1.0, 0.5], [0.0, 0.0], []):
        fit = spectrum_decay_fit(np.asarray(g))
        assert math.isnan(fit["p"]) and fit["n_used"] <= 2


def test_clover_setting_nodes():
    from meanfield._apps.clover import CloverSetting

    for bad in (1, 448):
        with pytest.raises(ValueError, match="n_nodes"):
            CloverSetting(n_nodes=bad)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\^62\]"):
        CloverSetting(seed=2**63)
