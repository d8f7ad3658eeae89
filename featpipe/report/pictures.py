"""Report figures that need a run's saved model or its images: first-layer templates, visual
words, HOG glyphs and color histograms, misclassified validation images.

Models and data are reloaded from each run's folder and config (never cached on disk). Anything
that cannot be loaded (a moved archive, a changed data set, a missing model file) becomes a
`Note` shown in the report instead of an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from matplotlib.colors import hsv_to_rgb

from .. import model_io
from ..errors import FeatpipeError
from ..features.mirror import unmirrored
from ..plots import plt
from .collect import RunRecord
from .figures import Figure, figure_png
from .fisher_means import fisher_means
from .mosaic import mosaic_figure

#: Validation images predicted per run, at most, while looking for misclassified ones.
PREDICT_CAP = 2000
PREDICT_CHUNK = 250
SAMPLE_IMAGES = 4  # images shown with their HOG glyph and color histogram
MAX_TEMPLATES = 50
MAX_WORDS = 100
GLYPH_CELL = 16  # pixels per HOG cell in the drawn glyphs


@dataclass
class Note:
    """Why a figure is missing: the run (or "" for all) and the reason, for the report's reader."""

    run: str
    text: str


@dataclass
class Loader:
    """Loads models and data splits once per report, keeping failures as notes."""

    progress: bool = False
    notes: list[Note] = field(default_factory=list)
    _models: dict = field(default_factory=dict)
    _splits: dict = field(default_factory=dict)

    def model(self, run: RunRecord):
        """The run's fitted Pipeline, or None (with a note) if it cannot be loaded."""
        key = str(run.path)
        if key not in self._models:
            try:
                self._models[key] = model_io.load(run.path)
            except FeatpipeError as error:
                self.notes.append(Note(run.name, f"model not loaded: {error}"))
                self._models[key] = None
        return self._models[key]

    def validation(self, run: RunRecord):
        """The run's validation Dataset, reloaded from its config, or None (with a note)."""
        from ..config import load_config
        from ..runner import load_splits

        data = run.config.get("data")
        key = json.dumps(data, sort_keys=True, default=str) + str(run.config.get("seed"))
        if key not in self._splits:
            try:
                splits = load_splits(load_config(run.path / "config.yaml"), progress=self.progress)
                self._splits[key] = splits.val
            except (FeatpipeError, OSError) as error:
                self._splits[key] = error
        value = self._splits[key]
        if isinstance(value, Exception):
            self.notes.append(Note(run.name, f"images skipped: the run's data could not be loaded ({value})"))
            return None
        expected = ((run.metrics.get("data") or {}).get("fingerprints") or {}).get("val")
        if expected and value.fingerprint() != expected:
            self.notes.append(Note(run.name, "images skipped: the data its config names has changed since the run "
                                             f"(validation fingerprint {value.fingerprint()[:10]}, run recorded {expected[:10]})"))
            return None
        return value


def extractors_of(model) -> dict:
    """The fitted feature extractors of a run's Pipeline by kind ({} if it has none)."""
    features = unmirrored(getattr(model, "named_steps", {}).get("features"))
    return {name: estimator for name, estimator in getattr(features, "extractors", []) or []}


def templates(run: RunRecord, model) -> Figure | None:
    """An MLP-on-pixels run's first-layer weights as images (class templates for a linear model)."""
    from ..nn.templates import first_layer_templates

    classifier = unmirrored(model.named_steps.get("classifier"))
    shape = getattr(classifier, "input_shape", None)
    if shape is None or not getattr(classifier, "coefs_", None):
        return None
    images = first_layer_templates(classifier, tuple(shape))[:MAX_TEMPLATES]
    linear = len(classifier.coefs_) == 1
    names = (run.metrics.get("data") or {}).get("class_names")
    classes = getattr(classifier, "classes_", None)
    titles = None
    if linear and names and classes is not None and len(classes) == len(images):
        titles = [names[int(c)] for c in classes]  # column k of the weights scores classes_[k]
    png = figure_png(mosaic_figure(images, ncols=10, titles=titles, cell=0.9,
                                   title=f"{run.name}: first-layer weights as images"))
    what = ("one template per class: the pixel pattern that raises that class's score"
            if linear else f"the first {len(images)} hidden units' input weights")
    return Figure(
        f"templates-{run.name}", f"First-layer templates of {run.name}",
        f"Each tile is {what}; look for shapes and colors of the classes (blurry averages of the class) "
        "rather than noise, which would mean the layer has not learned much.",
        png,
    )


def codebook(run: RunRecord, model) -> Figure | None:
    """A bag-of-visual-words run's codebook: each visual word shown as a patch."""
    bovw = extractors_of(model).get("bovw")
    if bovw is None:
        return None
    from ..features.bovw import codebook_images

    words = np.asarray(codebook_images(bovw))[:MAX_WORDS]
    size = getattr(bovw, "patch_sizes_", ["?"])[0]
    png = figure_png(mosaic_figure(words, ncols=20, cell=0.45,
                                   title=f"{run.name}: {len(words)} visual words ({size}x{size} patches)"))
    return Figure(
        f"codebook-{run.name}", f"Visual words of {run.name}",
        "Each tile is one k-means center (a whitened patch shown as an image): look for oriented edges, "
        "bars and color blobs, the local patterns the bag of words counts in every image.",
        png,
    )


def sample_indices(labels: np.ndarray, count: int = SAMPLE_IMAGES) -> list[int]:
    """The first image of each of the first `count` classes present (deterministic)."""
    chosen, seen = [], set()
    for index, label in enumerate(labels):
        if int(label) not in seen:
            seen.add(int(label))
            chosen.append(index)
        if len(chosen) == count:
            break
    return chosen


def hog_and_color(runs: Sequence[RunRecord], loader: Loader) -> Figure | None:
    """A few validation images beside their HOG glyph and their color histogram.

    HOG and color settings are taken from the first finished run that uses each extractor (so the
    pictures show what that pipeline sees), else from defaults suited to the image size.
    """
    from ..features.color import color_histograms
    from ..features.hog import hog_glyph

    done = [run for run in runs if run.done]
    if not done:
        return None
    hog_run = next((r for r in done if isinstance((r.config.get("features") or {}).get("hog"), dict)), None)
    color_run = next((r for r in done if isinstance((r.config.get("features") or {}).get("color"), dict)), None)
    source_run = hog_run or color_run or done[0]
    val = loader.validation(source_run)
    if val is None:
        return None
    images = val.images[sample_indices(val.labels)]
    height, channels = images.shape[1], images.shape[3]
    hog = dict(hog_run.config["features"]["hog"]) if hog_run else {"pixels_per_cell": max(1, min(8, height // 4))}
    hog = {k: v for k, v in hog.items() if k in ("orientations", "pixels_per_cell", "cells_per_block", "transform_sqrt", "signed")}
    color = dict(color_run.config["features"]["color"]) if color_run else {}
    space = color.get("space") or ("gray" if channels == 1 else "hue")
    bins = int(color.get("bins") or 16)
    hists = color_histograms(images, space=space, bins=bins, grid=1, normalize="l1")
    colors = bin_colors(space, bins)
    glyph_images, hog_shown, scale = glyph_inputs(images, hog)
    fig, axes = plt.subplots(len(images), 3, figsize=(9, 2.2 * len(images)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 2.4], "hspace": 0.75, "wspace": 0.25})
    for row, image in enumerate(images):
        shown = image[..., 0] if channels == 1 else image
        axes[row, 0].imshow(shown, cmap="gray" if channels == 1 else None, interpolation="nearest")
        axes[row, 0].set_title(val.class_names[val.labels[sample_indices(val.labels)[row]]], fontsize=8)
        axes[row, 1].imshow(hog_glyph(glyph_images[row], **hog_shown), cmap="gray", interpolation="nearest")
        axes[row, 1].set_title("HOG cell histograms" + (f"\n(drawn at {scale}x size)" if scale > 1 else ""), fontsize=8)
        draw_histogram(axes[row, 2], hists[row], colors, space)
        axes[row, 2].tick_params(labelsize=7)
        axes[row, 0].axis("off")
        axes[row, 1].axis("off")
    where = []
    if hog_run:
        where.append(f"HOG as in {hog_run.name}")
    if color_run:
        where.append(f"color as in {color_run.name}")
    fig.suptitle("what the hand-designed features see" + (f" ({'; '.join(where)})" if where else " (default settings)"))
    return Figure(
        "hog-color", "HOG glyphs and color histograms",
        "HOG keeps the direction of edges per cell and drops color; the histogram keeps color and "
        "drops where it is: look for the classes each one can and cannot tell apart.",
        figure_png(fig),
    )


def glyph_inputs(images: np.ndarray, hog: dict) -> tuple[np.ndarray, dict, int]:
    """Images and HOG settings for drawing glyphs people can read.

    A glyph draws one line per orientation inside each cell, which needs cells of about 16 pixels
    to be read; smaller cells (2-pixel cells on 8x8 digits, 8-pixel cells on CIFAR-10) are drawn on
    the image upscaled by the factor that makes them 16 pixels, with cells scaled alike, so each
    glyph covers the same region of the image.
    """
    from ..data.images import resize_images

    cell = hog.get("pixels_per_cell", 8)
    smallest = min(cell) if isinstance(cell, (list, tuple)) else int(cell)
    scale = max(1, -(-GLYPH_CELL // max(smallest, 1)))
    if scale == 1:
        return images, hog, 1
    scaled_cell = [c * scale for c in cell] if isinstance(cell, (list, tuple)) else int(cell) * scale
    size = (images.shape[1] * scale, images.shape[2] * scale)
    return resize_images(images, size), {**hog, "pixels_per_cell": scaled_cell}, scale


def draw_histogram(ax, hist: np.ndarray, colors: np.ndarray, space: str, most: int = 24) -> None:
    """A color histogram as bars in the bins' own colors; past 64 bins, only the `most` fullest
    bins (in bin order), since hundreds of one-pixel bars cannot be read."""
    shown = np.arange(len(hist))
    what = f"{space} histogram of the whole image ({len(hist)} bins)"
    if len(hist) > 64:
        shown = np.sort(np.argsort(hist, kind="stable")[::-1][:most])
        what = f"{space} histogram: the {most} fullest of {len(hist)} bins, bars in the bin's color"
    ax.bar(np.arange(len(shown)), hist[shown], width=0.9, color=colors[shown], edgecolor="0.35", linewidth=0.4)
    ax.set_xticks(np.arange(len(shown)), [str(i) for i in shown], fontsize=6, rotation=90 if len(shown) > 16 else 0)
    ax.set_xlim(-0.5, len(shown) - 0.5)
    ax.set_xlabel("bin", fontsize=7)
    ax.set_ylabel("fraction of pixels", fontsize=7)
    ax.set_title(what, fontsize=8)


def bin_colors(space: str, bins: int) -> np.ndarray:
    """The RGB color at the center of each joint histogram bin, shape (n_bins, 3), for bar colors."""
    centers = (np.arange(bins) + 0.5) / bins
    if space == "gray":
        return np.repeat(centers[:, None], 3, axis=1)
    if space == "hue":
        return hsv_to_rgb(np.stack([centers, np.ones(bins), np.ones(bins)], axis=1))
    if space == "hue_saturation":
        h, s = np.meshgrid(centers, centers, indexing="ij")
        return hsv_to_rgb(np.stack([h.ravel(), s.ravel(), np.ones(h.size)], axis=1))
    a, b, c = np.meshgrid(centers, centers, centers, indexing="ij")
    joint = np.stack([a.ravel(), b.ravel(), c.ravel()], axis=1)
    return hsv_to_rgb(joint) if space == "hsv" else joint


def interleaved_by_class(labels: np.ndarray) -> np.ndarray:
    """Indices of `labels` taking one image of each class in turn (class order, then position).

    Splits keep images grouped by class, so "the first mistakes" in plain order would all be of
    the first class; in this order they are spread over the classes.
    """
    labels = np.asarray(labels)
    rank = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        rank[where] = np.arange(len(where))
    return np.lexsort((labels, rank))


def misclassified(run: RunRecord, model, val, count: int) -> tuple[np.ndarray, list[str]] | None:
    """Up to `count` validation images `model` gets wrong, with "predicted (true)" titles.

    Images are tried one class at a time in turn (see `interleaved_by_class`), at most
    PREDICT_CAP of them, so the mistakes shown come from many classes.
    """
    names = val.class_names
    order = interleaved_by_class(val.labels)[:PREDICT_CAP]
    found: list[int] = []
    predicted: dict[int, int] = {}
    for start in range(0, len(order), PREDICT_CHUNK):
        chunk = order[start:start + PREDICT_CHUNK]
        guesses = np.asarray(model.predict(val.images[chunk]))
        for index, guess in zip(chunk[guesses != val.labels[chunk]], guesses[guesses != val.labels[chunk]]):
            found.append(int(index))
            predicted[int(index)] = int(guess)
        if len(found) >= count:
            break
    found = found[:count]
    if not found:
        return None
    titles = [f"{names[predicted[i]]}\n(true {names[val.labels[i]]})" for i in found]
    return val.images[found], titles


def misclassified_figure(rows: list[tuple[RunRecord, np.ndarray, list[str]]], count: int) -> Figure | None:
    """One row of misclassified validation images per run."""
    if not rows:
        return None
    shape = rows[0][1].shape[1:]
    tiles, titles = [], []
    for _, images, texts in rows:
        blank = np.full((count - len(images), *shape), 255, dtype=np.uint8)
        tiles.append(np.concatenate([images, blank]) if len(images) < count else images)
        titles += list(texts) + [""] * (count - len(images))
    fig = mosaic_figure(np.concatenate(tiles), ncols=count, titles=titles, row_labels=[run.name for run, *_ in rows],
                        cell=0.95, title="misclassified validation images: predicted (true)")
    return Figure(
        "misclassified", "Misclassified validation images",
        "Each row is one pipeline's first mistakes on validation images taken one class at a time: look for "
        "mistakes a person would also make (ambiguous images) versus ones that show what the features cannot see.",
        figure_png(fig),
    )


def picture_figures(runs: Sequence[RunRecord], images: bool = True, max_images: int = 8,
                    progress: bool = False) -> tuple[list[Figure], list[Note]]:
    """Every model- and image-based figure for `runs` (finished runs only), with notes on what is missing.

    With `images` false, only figures that need no data (templates, visual words) are drawn.
    """
    from tqdm.auto import tqdm

    loader = Loader(progress=progress)
    figures: list[Figure] = []
    rows = []
    done = [run for run in runs if run.done]
    for run in tqdm(done, desc="report pictures", disable=None if progress else True):
        model = loader.model(run)
        if model is None:
            continue
        for draw in (templates, codebook, fisher_means):
            try:
                figure = draw(run, model)
            except FeatpipeError as error:
                loader.notes.append(Note(run.name, f"{draw.__name__} not drawn: {error}"))
                continue
            if figure is not None:
                figures.append(figure)
        if images and max_images > 0:
            val = loader.validation(run)
            if val is None:
                continue
            try:
                found = misclassified(run, model, val, max_images)
            except FeatpipeError as error:
                loader.notes.append(Note(run.name, f"misclassified images not drawn: {error}"))
                continue
            if found is not None:
                rows.append((run, *found))
    if images:
        try:
            figure = hog_and_color(runs, loader)
        except FeatpipeError as error:
            loader.notes.append(Note("", f"HOG and color pictures not drawn: {error}"))
            figure = None
        figures += [f for f in (figure, misclassified_figure(rows, max_images)) if f is not None]
    else:
        loader.notes.append(Note("", "image figures (HOG glyphs, color histograms, misclassified images) were "
                                     "left out (--no-images)"))
    order = ("templates-", "codebook-", "fisher-means-", "hog-color", "misclassified")
    figures.sort(key=lambda f: next(i for i, prefix in enumerate(order) if f.key.startswith(prefix)))
    return figures, _unique(loader.notes)


def _unique(notes: list[Note]) -> list[Note]:
    """One note per distinct text, naming every run it applies to."""
    merged: dict[str, list[str]] = {}
    for note in notes:
        runs = merged.setdefault(note.text, [])
        if note.run and note.run not in runs:
            runs.append(note.run)
    return [Note(", ".join(runs), text) for text, runs in merged.items()]
