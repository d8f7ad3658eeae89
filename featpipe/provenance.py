"""What made a result: package versions, git revision, machine; recorded in every run."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_PACKAGES = ("featpipe", "numpy", "scikit-learn", "scikit-image", "pydantic", "matplotlib")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages whose behaviour shapes a result."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision() -> str | None:
    """The featpipe source tree's git commit (with '+dirty' if modified), or None outside git."""
    source = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=source, capture_output=True, text=True, timeout=5
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> dict:
    """The machine a run used: host, processor count, platform."""
    return {"host": platform.node(), "cpus": os.cpu_count(), "platform": platform.platform()}


def now_iso() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
