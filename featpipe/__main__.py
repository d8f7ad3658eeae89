"""`python -m featpipe`: the same command line as the `featpipe` script."""

from .cli import app

app()
