"""A real local MLflow store per test (SQLite, in tmp_path) and tiny digits configs that run in a second."""

import shutil
from pathlib import Path

import pytest

# A 64-16-10 MLP on 300 digits for 3 epochs: per-epoch history, learning-curve and confusion plots.
TINY_MLP = """
name: tiny-mlp
seed: 0
data: {source: digits, n_train: 300, val_fraction: 0.25, cache_dir: CACHE}
features:
  raw: {}
  normalize: none
classifier: mlp
mlp: {hidden_sizes: [16], epochs: 3, batch_size: 32, learning_rate: 0.05, optimizer: momentum}
"""

# HOG + a linear SVM with a two-value C search, no plots.
TINY_HOG = """
name: tiny-hog
seed: 0
data: {source: digits, n_train: 300, val_fraction: 0.25, cache_dir: CACHE}
features:
  hog: {pixels_per_cell: 2, cells_per_block: 2}
svm: {C: [0.1, 1.0]}
output: {plots: false}
"""


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> Path:
    """An empty MLflow SQLite database, made once: creating its tables takes several seconds."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store(empty_store, tmp_path) -> str:
    """The tracking URI of this test's own MLflow store (a copy of the empty one) in tmp_path."""
    path = tmp_path / "mlflow" / "mlflow.db"
    path.parent.mkdir()
    shutil.copyfile(empty_store, path)
    return f"sqlite:///{path}"


@pytest.fixture
def client(store):
    """MLflow's own client on this test's store: what the tests read the logged runs back with."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=store)


@pytest.fixture
def configs(tmp_path) -> Path:
    """A folder with tiny-mlp.yaml and tiny-hog.yaml, whose cache is tmp_path/cache.

    The cache folder is in the configs because bench workers keep the environment they started with.
    """
    folder = tmp_path / "configs"
    folder.mkdir()
    for name, text in (("tiny-mlp.yaml", TINY_MLP), ("tiny-hog.yaml", TINY_HOG)):
        (folder / name).write_text(text.replace("CACHE", str(tmp_path / "cache")))
    return folder
