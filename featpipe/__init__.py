"""featpipe: hand-designed features + a linear SVM versus an MLP learned end to end."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("featpipe")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
