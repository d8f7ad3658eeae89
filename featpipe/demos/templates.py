"""Templates: what the first layer of a network looks for, seen as images.

A linear classifier has one weight row per class; reshaped to the image's shape it is a
"template" that each image is matched against (CS231n, "Linear classification"). A 2-layer MLP
has many first-layer units instead of one per class, so it can keep several templates per class
(the "two-headed horse" of the lecture) and let the second layer combine them. The demo trains
both on the same images and shows their first-layer weights side by side.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from featpipe.data import load_source, parse_spec, stratified_split, subset
from featpipe.nn import MLPClassifier
from featpipe.nn.templates import first_layer_templates

from .figures import save_figure
from .result import DemoResult

#: Images with at most this many values (H * W * C) count as small, like the 8x8 digits.
SMALL_IMAGE = 256


def run(
    out_dir: Path,
    *,
    seed: int = 0,
    data: str = "digits",
    max_images: int = 2000,
    hidden_units: int = 64,
    epochs: int = 30,
    weight_decay: float | None = None,
    shown_units: int = 32,
    progress: bool = False,
) -> DemoResult:
    """Train a linear softmax classifier and a 2-layer MLP on images; plot their first layers.

    Parameters
    ----------
    out_dir : Path
        Folder that receives ``templates.png`` (digits) or ``templates-NAME.png`` (other data,
        NAME from the data set's file or folder name).
    seed : int
        Seeds the subset, the split and both models.
    data : str
        A data spec (see `featpipe.data.parse_spec`): ``digits`` (built in, offline),
        ``cifar10[:DIR]``, or an image folder / ``.tar.gz`` such as the CIFAR-10 JPEG archive.
    max_images : int
        Use a stratified subset of at most this many training images (speed); 10% of them are
        held out for validation.
    hidden_units : int
        Width of the MLP's hidden layer.
    epochs : int
        Training epochs of both models.
    weight_decay : float, optional
        L2 strength of both models. Default: 0.03 for images of at most `SMALL_IMAGE` values
        (the 8x8 digits), else 0.3. Templates are only readable once the decay has worn the
        random initial weights down: on a 2,000-image CIFAR-10 subset (30 epochs), 0.03 leaves
        them as coloured noise, 0.3 shows colour blobs and class shapes, 1.0 leaves many MLP
        units dead (validation accuracy 23%, against 32% at 0.3).
    shown_units : int
        How many of the MLP's first-layer units to draw.
    progress : bool
        Progress bars while loading data and training.
    """
    spec = parse_spec(data)
    splits = load_source(**spec, progress=progress)
    dataset = splits["train"] if "train" in splits else next(iter(splits.values()))
    if len(dataset) > max_images:
        dataset = subset(dataset, n=max_images, seed=seed)
    train, val = stratified_split(dataset, 0.1, seed)
    shape = tuple(int(s) for s in train.images.shape[1:])
    X, X_val = (ds.images.reshape(len(ds), -1).astype(np.float32) / 255.0 for ds in (train, val))

    if weight_decay is None:
        weight_decay = 3e-2 if int(np.prod(shape)) <= SMALL_IMAGE else 0.3
    settings = dict(
        input_shape=shape, optimizer="momentum", learning_rate=0.01, batch_size=64, epochs=epochs,
        schedule="cosine", weight_decay=float(weight_decay), random_state=seed, progress=progress,
    )
    linear = MLPClassifier(hidden_sizes=(), **settings).fit(X, train.labels, X_val=X_val, y_val=val.labels)
    mlp = MLPClassifier(hidden_sizes=(int(hidden_units),), **settings).fit(X, train.labels, X_val=X_val, y_val=val.labels)
    accuracy = {
        "linear": {"train": float(linear.score(X, train.labels)), "val": float(linear.score(X_val, val.labels))},
        "mlp": {"train": float(mlp.score(X, train.labels)), "val": float(mlp.score(X_val, val.labels))},
    }

    own_class = _template_matches_class_mean(linear, X, train.labels)

    name = Path(spec["root"]).name if "root" in spec else spec["source"]
    # One file per data set, so a CIFAR-10 run does not overwrite the digits figure.
    slug = "" if name == "digits" else "-" + re.sub(r"[^a-z0-9]+", "-", name.lower().removesuffix(".tar.gz")).strip("-")
    figure = Path(out_dir) / f"templates{slug}.png"
    # Show the units the second layer leans on most (largest outgoing weights), not random ones.
    strength = np.abs(mlp.coefs_[1]).sum(axis=1)
    shown = np.sort(np.argsort(-strength)[: min(shown_units, hidden_units)])
    label = f"{name}, {len(dataset)} images"
    _plot(_as_images(linear, range(linear.coefs_[0].shape[1]), shape), _as_images(mlp, shown, shape),
          train.class_names, shown, accuracy, label, shape, figure)

    numbers = {
        "data": dataset.source,
        "image_shape": list(shape),
        "n_train": len(train),
        "n_val": len(val),
        "hidden_units": int(hidden_units),
        "weight_decay": float(weight_decay),
        "accuracy": accuracy,
        "linear_templates_closest_to_own_class_mean": f"{int(own_class.sum())} of {own_class.size}",
        "mlp_units_shown": int(len(shown)),
    }
    claims = {
        "most linear templates (> half) look most like their own class's mean image": (
            own_class.sum() > own_class.size / 2
        ),
        "the 2-layer MLP beats the linear classifier on validation images": (
            accuracy["mlp"]["val"] > accuracy["linear"]["val"]
        ),
    }
    return DemoResult("templates", numbers, claims, [figure])


def _template_matches_class_mean(linear: MLPClassifier, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each class k, whether template k correlates best with class k's mean image.

    Both sides live in the classifier's input space (normalized pixels) and the mean over all
    images is subtracted first, so "looks like" means "is bright where this class is brighter
    than average". Returns a boolean array, shape (n_classes,).
    """
    Z = (X - linear.mean_) / linear.std_
    centred = np.stack([Z[y == k].mean(axis=0) for k in range(len(linear.classes_))]) - Z.mean(axis=0)
    templates = linear.coefs_[0].T
    corr = np.corrcoef(np.concatenate([templates, centred]))[: len(templates), len(templates):]
    return np.argmax(corr, axis=1) == np.arange(len(templates))


def _as_images(model: MLPClassifier, units, shape) -> np.ndarray:
    """First-layer weights of ``units`` as images (M, H, W, C).

    Grayscale weights are returned as they are (signed; plotted with a diverging colour map
    so that positive and negative weights read differently); RGB weights are rescaled to
    [0, 1] per unit by `featpipe.nn.templates.first_layer_templates`, since colour images
    cannot carry a sign.
    """
    units = np.asarray(list(units), dtype=np.intp)
    if shape[-1] == 1:
        return np.ascontiguousarray(model.coefs_[0].T[units]).reshape(len(units), *shape)
    return first_layer_templates(model, shape)[units]


def _plot(linear_templates, mlp_templates, class_names, unit_ids, accuracy, source, shape, path: Path) -> None:
    n_classes = len(linear_templates)
    linear_cols, mlp_cols = 5, 8
    linear_rows = -(-n_classes // linear_cols)
    mlp_rows = -(-len(mlp_templates) // mlp_cols)
    # Square cells: the linear templates 1.5 times as large as the MLP's units, top-aligned.
    cell, scale = 1.0, 1.5
    widths = [linear_cols * cell * scale, mlp_cols * cell]
    left_height, right_height = linear_rows * cell * scale, mlp_rows * cell
    height = max(left_height, right_height)
    header = 1.1  # inches above the image grids for the titles
    fig = plt.figure(figsize=(sum(widths) + 0.6, height + header))
    top = height / (height + header)
    outer = fig.add_gridspec(2, 2, width_ratios=widths, wspace=0.06, top=top, bottom=0.0, left=0.0, right=1.0,
                             height_ratios=[min(left_height, right_height), abs(left_height - right_height) or 1e-6])
    left_cell = outer[0, 0] if left_height <= right_height else outer[:, 0]
    right_cell = outer[:, 1] if left_height <= right_height else outer[0, 1]
    panels = (
        (left_cell.subgridspec(linear_rows, linear_cols, hspace=0.25, wspace=0.1), linear_templates,
         [f"class {name}" for name in class_names], linear_cols, 9),
        (right_cell.subgridspec(mlp_rows, mlp_cols, hspace=0.35, wspace=0.1), mlp_templates,
         [f"unit {u}" for u in unit_ids], mlp_cols, 7),
    )
    for spec, images, titles, ncols, fontsize in panels:
        for index, (image, title) in enumerate(zip(images, titles)):
            ax = fig.add_subplot(spec[index // ncols, index % ncols])
            if shape[-1] == 1:  # signed weights: red positive, blue negative, white zero
                limit = float(np.abs(image).max()) or 1.0
                ax.imshow(image[..., 0], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            else:
                ax.imshow(image, interpolation="nearest")
            ax.set_title(title, fontsize=fontsize)
            ax.axis("off")
    share = widths[0] / sum(widths)
    fig.text(share / 2, top + 0.06, f"linear classifier: one template per class\nvalidation accuracy "
             f"{accuracy['linear']['val']:.1%}", ha="center", va="bottom", fontsize=11)
    fig.text(share + (1 - share) / 2, top + 0.06, f"2-layer MLP: {len(mlp_templates)} of its first-layer units\n"
             f"validation accuracy {accuracy['mlp']['val']:.1%}", ha="center", va="bottom", fontsize=11)
    if left_height < right_height:
        fig.text(share / 2, 0.5 * (1 - left_height / right_height) * top,
                 "A linear classifier scores an image against one template per class.\n"
                 "The MLP's hidden layer holds many templates, and its second\n"
                 "layer mixes them, so a class can have several looks.",
                 ha="center", va="center", fontsize=10, color="0.25")
    colours = "red: positive weight, blue: negative" if shape[-1] == 1 else "each rescaled to 0..1"
    fig.suptitle(f"First-layer weights seen as images ({source}; {colours})", y=0.99)
    save_figure(fig, path)
