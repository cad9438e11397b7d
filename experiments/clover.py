"""Clover-leaf neuron clouds: foreground neurons reproduce their background.

A thin script over `meanfield._apps.clover` (the setting, the method and the reasons are documented
there). Writes `clover.json`, `config.json`, `arrays.npz`, `clover.png` (background blue,
foreground / GP-like control / from-scratch fixed point orange, distances against the noise floor)
and `clover_pairs.png` (other activation/target pairs) into --out.

Usage:  python experiments/clover.py [--out DIR] [--width N] [--steps S] [--small]
"""

import argparse
import sys

from meanfield._cli.main import main

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="results/clover")
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--small", action="store_true", help="tiny run (seconds), for smoke tests")
    a = ap.parse_args()
    argv = ["clover", "--out", a.out, "--width", str(a.width), "--steps", str(a.steps)]
    if a.small:
        argv = ["clover", "--out", a.out, "--width", "64", "--steps", "60", "--nodes", "8",
                "--solve-iterations", "3", "--no-pairs"]
    sys.exit(main(argv))
