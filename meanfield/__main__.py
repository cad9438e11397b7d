"""`python -m meanfield ...`: the same command line as the `meanfield` script."""

import sys

from ._cli.main import main

if __name__ == "__main__":
    sys.exit(main())
