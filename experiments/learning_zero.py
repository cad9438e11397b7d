"""Learning zero: lambda-hat of the width-128 bias-free tanh net at a zero point, against n beta.

A thin wrapper of ``meanfield llc`` (meanfield/_llc_command.py; the model, the estimators, the
theory curve and the figure live in meanfield/_learning_zero.py). Writes results/learning_zero/
(llc.json, llc.png, config.json, arrays.npz) unless --out is given; any `meanfield llc` option
works, e.g. ``--small`` for a quick run.

Usage:  python experiments/learning_zero.py [--out DIR] [--small] [meanfield llc options]
"""

import sys

from meanfield._cli.main import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--out" not in argv:
        argv += ["--out", "results/learning_zero"]
    sys.exit(main(["llc", *argv]))
