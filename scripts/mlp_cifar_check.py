"""Validation accuracy of featpipe's MLP on real CIFAR-10 (45,000 train / 5,000 stratified val).

Loads the CIFAR-10 training JPEGs through featpipe's folder loader (decoded once, then cached),
splits off a stratified 10% validation set with seed 0, trains one preset and prints the
validation accuracy per epoch and at the end. One BLAS thread by default, to keep the shared
machine usable.

    python scripts/mlp_cifar_check.py linear
    python scripts/mlp_cifar_check.py wide --epochs 20 --data PATH/TO/cifar10-train-jpeg.tar.gz

--data defaults to the archive the CIFAR-10 configs name: ``../shared/data/cifar10-train-jpeg.tar.gz``
relative to the repository root.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from featpipe.data.dataset import stratified_split
from featpipe.data.folder import load_folder
from featpipe.nn import MLPClassifier

#: The archive the CIFAR-10 configs name, relative to the repository root (this file's parent's parent).
DATA = Path(__file__).resolve().parent.parent / ".." / "shared" / "data" / "cifar10-train-jpeg.tar.gz"

COMMON = dict(input_shape=(32, 32, 3), batch_size=256, random_state=0, early_stopping=True, patience=100)

PRESETS = {
    # linear softmax classifier on per-channel normalized pixels
    "linear": dict(hidden_sizes=(), optimizer="momentum", learning_rate=0.002, weight_decay=1e-3,
                   schedule="cosine", epochs=15),
    "h100": dict(hidden_sizes=(100,), optimizer="momentum", learning_rate=0.01, weight_decay=1e-3,
                 schedule="cosine", epochs=20, augment={"flip": True}),
    "wide": dict(hidden_sizes=(1024,), optimizer="momentum", learning_rate=0.01, weight_decay=1e-3,
                 schedule="cosine", epochs=20, augment={"flip": True}),
    "deep": dict(hidden_sizes=(1024, 1024), optimizer="momentum", learning_rate=0.03, weight_decay=5e-4,
                 schedule="cosine", epochs=15, augment={"flip": True, "crop": 2}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", choices=list(PRESETS))
    parser.add_argument("--data", default=str(DATA), help="CIFAR-10 JPEG folder or .tar.gz")
    parser.add_argument("--cache-dir", default=None, help="featpipe cache root for the decoded arrays")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    splits = load_folder(args.data, cache_dir=args.cache_dir, progress=True)
    full = splits["train"]
    train, val = stratified_split(full, 0.1, seed=0)
    X, y = train.images.reshape(len(train), -1), train.labels
    Xv, yv = val.images.reshape(len(val), -1), val.labels
    print(f"train {X.shape}, val {Xv.shape}, classes {full.class_names}")

    settings = {**COMMON, **PRESETS[args.preset]}
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    print("settings:", json.dumps(settings))
    started = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        mlp = MLPClassifier(**settings).fit(
            X, y, X_val=Xv, y_val=yv,
            on_epoch_end=lambda e, h: print(
                f"epoch {e + 1:3d}  loss {h['loss'][-1]:.4f}  train_acc {h['train_acc'][-1]:.4f}  "
                f"val_acc {h['val_acc'][-1]:.4f}  lr {h['lr'][-1]:.5f}  {h['epoch_time'][-1]:.1f}s",
                flush=True,
            ),
        )
        val_acc = mlp.score(Xv, yv)
    print(f"preset {args.preset}: validation accuracy {val_acc:.4f} (best epoch {mlp.best_epoch_ + 1} "
          f"of {mlp.n_epochs_run_}), {time.perf_counter() - started:.0f} s with {args.threads} thread(s)")


if __name__ == "__main__":
    main()
