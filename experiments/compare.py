"""Mean field vs NNGP, NTK and finite-width Langevin ensembles (issue 3): a thin wrapper over
`meanfield compare`.

Runs the feature-learning comparison of experiments/compare_cubic.toml (cubic teacher, erf,
mean-field width family sigma_a2, noise ~ N0/N) and writes results/compare_cubic: table.txt,
compare.json, compare.png, arrays.npz. Any extra arguments are passed to `meanfield compare`
(see `meanfield compare --help`), e.g. `--widths 8,16,32 --chains 4` for a quicker run.

Usage:  python experiments/compare.py [--out DIR] [meanfield compare options]
"""

import os
import sys
from pathlib import Path

# XLA's multi-threaded Eigen pool can wedge on vmapped Cholesky graphs on a loaded CPU (seen here
# as a silent hang, all threads in futex wait); single-threaded Eigen and synchronous dispatch
# avoid it. Must be set before JAX starts.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
os.environ.setdefault("JAX_CPU_ENABLE_ASYNC_DISPATCH", "false")

from meanfield._cli.main import main  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULTS = ["--widths", "8,16,32,64,128", "--chains", "8", "--warmup", "6000",
            "--samples", "200", "--thin", "30"]

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--out" not in args:
        args += ["--out", str(HERE.parent / "results" / "compare_cubic")]
    given = {a for a in args if a.startswith("--")}
    extra = []
    for i in range(0, len(DEFAULTS), 2):
        if DEFAULTS[i] not in given:
            extra += DEFAULTS[i:i + 2]
    sys.exit(main(["compare", str(HERE / "compare_cubic.toml"), *args, *extra]))
