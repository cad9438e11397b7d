"""The command line: `meanfield COMMAND`; one module per command, registered in `main`."""

from .main import main as main
