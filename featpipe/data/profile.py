"""Data profiles: one switch that points every CIFAR-10 config at a local copy instead of the official set.

The configs under ``configs/cifar10/`` say ``data.source: cifar10``: the official data set,
downloaded (MD5-checked) on first use. ``FEATPIPE_DATA_PROFILE=local`` (or a path to a profile
file) swaps that for the profile's block, e.g. this repository's image-folder archive::

    # configs/data-profiles/local.yaml
    cifar10:
      source: folder
      root: ../../../shared/data/cifar10-train-jpeg.tar.gz   # relative to this file

The profile is applied as a config is read, so the run folder's config.yaml, the config digest
and the run ID record the data really used. It replaces ``source`` and fills the keys the data
block leaves unset (so ``--set data.root=...`` still wins); configs of other sources are untouched.
"""

from __future__ import annotations

import os
from pathlib import Path

from featpipe.errors import ConfigError

PROFILE_ENV = "FEATPIPE_DATA_PROFILE"
PROFILE_FOLDER = Path("configs") / "data-profiles"
PROFILE_HINT = (f"{PROFILE_ENV}=local (this repository's archive, see {PROFILE_FOLDER}/local.yaml) "
                f"or {PROFILE_ENV}=FILE.yaml (a profile of your own)")
PROFILE_HELP = (f"CIFAR-10 configs use the official data set (downloaded once); {PROFILE_ENV}=local uses "
                f"{PROFILE_FOLDER}/local.yaml instead (this repository's local image-folder archive), or "
                f"{PROFILE_ENV}=FILE.yaml your own profile.")


def profile_path(value: str) -> Path:
    """The profile file a `FEATPIPE_DATA_PROFILE` value names: a .yaml path, or NAME in configs/data-profiles/."""
    if value.endswith((".yaml", ".yml")) or os.sep in value:
        path = Path(value).expanduser()
    else:
        path = PROFILE_FOLDER / f"{value}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PROFILE_FOLDER.glob("*.yaml")) if PROFILE_FOLDER.is_dir() else []
        raise ConfigError(f"{PROFILE_ENV}={value}: no profile file {path.absolute()} (names are looked up in "
                          f"{PROFILE_FOLDER}/ under the working directory{'; found: ' + ', '.join(known) if known else ''}); "
                          f"give a profile name or the path of a profile .yaml, or unset {PROFILE_ENV}")
    return path


def read_profile(path: Path) -> dict[str, dict]:
    """A profile file: ``{source: {data keys}}``, relative roots made absolute against the file's folder."""
    from featpipe.config import read_text_file, read_yaml_mapping

    profile = read_yaml_mapping(read_text_file(path, "data profile"), str(path), "data profile")
    blocks = {}
    for source, block in profile.items():
        if not isinstance(block, dict) or "source" not in block:
            raise ConfigError(f"{path}: {source}: expected the data keys to use instead (at least `source:`), "
                              f"got {block!r}")
        block = dict(block)
        root = block.get("root")
        if isinstance(root, str) and root:
            root = os.path.expandvars(os.path.expanduser(root))
            block["root"] = os.path.realpath(root if os.path.isabs(root) else path.parent / root)
        blocks[str(source)] = block
    return blocks


def apply_profile(data: dict, profile: str | None = None) -> None:
    """Apply the data profile (default ``$FEATPIPE_DATA_PROFILE``) to a raw config dict, in place.

    Called where a config is first read for a new run (`load_run_config`, batch planning),
    never on a finished run's recorded config, which already says what data it read.
    """
    profile = os.environ.get(PROFILE_ENV, "") if profile is None else profile
    section = data.get("data")
    if not profile or not isinstance(section, dict):
        return
    block = read_profile(profile_path(profile)).get(str(section.get("source", "digits")))
    if block is not None:
        data["data"] = {**block, **section, "source": block["source"]}


def load_run_config(path: str | os.PathLike, overrides=()):
    """`featpipe.config.load_config` for a new run: the config at `path`, `overrides`, then the data profile."""
    from featpipe.config import apply_override, read_text_file, read_yaml_mapping, validate

    data = read_yaml_mapping(read_text_file(path, "config"), str(path), "config")
    for override in overrides:
        apply_override(data, override)
    apply_profile(data)
    return validate(data, str(path))
