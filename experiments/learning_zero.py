"""Learning zero: lambda-hat of a width-128 bias-free tanh net at a zero point, against nbeta.

Writes `learning_zero.json` (betas, lambda_hat, lambda_hat_err, diagnostics, the frozen-W Gaussian
theory lambda_quad, the Gram spectrum and its decay fit, growth-law fits) and `learning_zero.png`.
See meanfield/_learning_zero.py for the model, the zero point and the theory curve.

Usage:  python experiments/learning_zero.py [--out DIR] [--steps N] [--chains C] [--small]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from meanfield._learning_zero import run_llc_experiment


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    b = np.asarray(result["betas"])
    ax.errorbar(b, result["lambda_hat"], yerr=result["lambda_hat_err"], fmt="o", color="k",
                label="MALA $\\hat\\lambda$ (W free)")
    ax.plot(result["theory_betas"], result["theory_lambda"], "-", color="tab:blue",
            label="Gaussian theory, W frozen")
    ax.axhline(result["rlct"], color="tab:red", ls="--", label=f"RLCT = h/2 = {result['rlct']:g}")
    lt = np.log(np.asarray(result["theory_betas"]))
    for name, col in (("linear", "tab:green"), ("quadratic", "tab:orange")):
        f = result["fits"].get(name)
        if f:
            ax.plot(result["theory_betas"], np.polyval(f["params"][::-1], lt), ":", color=col,
                    label=f"{name} in ln(n$\\beta$) fit to $\\hat\\lambda$")
    ax.set_xscale("log")
    ax.set_ylim(-1, result["rlct"] * 1.1)
    ax.set_xlabel("n$\\beta$")
    ax.set_ylabel("$\\hat\\lambda$")
    ax.legend(fontsize=8)
    ax2.semilogy(result["spectrum"], ".")
    ax2.axhline(result["spectrum"][0] * 1e-30, color="gray", lw=0.5)
    ax2.set_xlabel("j")
    ax2.set_ylabel("eigenvalue $g_j$ of $G_{ij}=E[\\tanh(w_i x)\\tanh(w_j x)]$")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/learning_zero")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--localization", type=float, default=100.0)
    parser.add_argument("--small", action="store_true", help="3 temperatures, short chains")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if args.small:
        res = run_llc_experiment(nbetas=[1e1, 1e4, 1e7], n_steps=600, n_burnin=200, n_chains=4,
                                 localization=args.localization, verbose=True)
    else:
        res = run_llc_experiment(nbetas=np.logspace(0, 12, 13), n_steps=args.steps,
                                 n_burnin=args.steps // 4, n_chains=args.chains,
                                 localization=args.localization, verbose=True)
    res["wall_seconds"] = time.time() - t0
    (out / "learning_zero.json").write_text(json.dumps(res, indent=1))
    plot(res, out / "learning_zero.png")
    print(json.dumps({k: res[k] for k in ("betas", "lambda_hat", "lambda_hat_err", "lambda_quad")}))
    print(json.dumps(res["fits"]))
    print(json.dumps(res["spectrum_fit"]))


if __name__ == "__main__":
    main()
