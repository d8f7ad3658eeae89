"""Where featpipe keeps downloads, extracted archives and decoded image arrays."""

from __future__ import annotations

import os
from pathlib import Path

import pooch

CACHE_ENV = "FEATPIPE_CACHE"


def cache_root(override: str | os.PathLike | None = None) -> Path:
    """Return the cache folder: `override`, else ``$FEATPIPE_CACHE``, else the user cache.

    The user cache is ``pooch.os_cache("featpipe")`` (e.g. ``~/.cache/featpipe`` on Linux).
    The folder is not created here; writers create what they need.
    """
    if override is not None and str(override) != "":
        return Path(override).expanduser().absolute()
    from_env = os.environ.get(CACHE_ENV, "")
    if from_env:
        return Path(from_env).expanduser().absolute()
    return Path(pooch.os_cache("featpipe")).expanduser().absolute()
