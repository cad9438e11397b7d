"""Input and output: configs, results folders, figures, reports."""
