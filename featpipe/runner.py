"""One experiment: load and split data, fit features and classifier, score, write the run folder.

The run folder (featpipe.runs.folder) is built in a temporary folder beside its destination and
moved into place only when complete, so an interrupted or failed run never leaves a half-written
result behind, and an existing run is never replaced unless asked.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from . import atomic, memory, model_io, pipeline, provenance
from .config import Config
from .data import Dataset, check_trainable, load_source, stratified_split, subset
from .data.cache import cache_root
from .errors import ConfigError, DataError
from .features import FeatureConcat, has_pixel_layout
from .features._images import show_progress
from .features.cache import FeatureCache, cached_features
from .features.mirror import MirrorAveraged, MirrorPaired, MirrorVote, mirror_mean
from .fusion import LateFusion, class_scores
from .imageops import flip_horizontal
from .metrics import classification_scores
from .runs import folder as run_folder
from .svm import search_c

THROUGHPUT_SAMPLE = 1000  # images timed end to end (features + classifier) for images/s
def flipped(split: str) -> str:
    """The name under which a split's mirror images are featurized (train_flips, test_flips)."""
    return f"{split}_flipped"


FLIPPED = flipped("train")  # features of the mirrored training images (features.train_flips)


@dataclass
class Splits:
    """The labelled images of one run: train, validation and (optionally) test."""

    train: Dataset
    val: Dataset
    test: Dataset | None = None

    def named(self) -> dict[str, Dataset]:
        items = {"train": self.train, "val": self.val, "test": self.test}
        return {name: ds for name, ds in items.items() if ds is not None}


@dataclass
class RunResult:
    """What `run_experiment` produced: the run folder and its metrics."""

    run_dir: Path
    metrics: dict = field(default_factory=dict)


class StageTimer:
    """Wall-clock seconds per named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


def load_splits(config: Config, progress: bool = True) -> Splits:
    """Load the configured source and split its training images (seeded, stratified)."""
    data = config.data
    sources = load_source(
        data.source, root=data.root, cache_dir=data.cache_dir, download=data.download,
        image_size=data.image_size, max_image_pixels=data.max_image_pixels,
        follow_symlinks=data.follow_symlinks, progress=progress,
    )
    if "train" not in sources:
        raise DataError(f"data source {data.source!r} has no 'train' split (found: {', '.join(sorted(sources))})")
    pool = sources["train"]
    if data.n_train is not None or data.per_class is not None:
        pool = subset(pool, n=data.n_train, per_class=data.per_class, seed=config.seed)
    check_trainable(pool)
    train, val = stratified_split(pool, data.val_fraction, config.seed)
    if len(val) == 0:  # stratified_split keeps a class of one image in train
        raise DataError(f"{pool.source}: no class has two training images, so the validation split is empty "
                        f"({len(pool)} images of {len(np.unique(pool.labels))} classes); give each class at "
                        "least two (raise data.n_train or data.per_class, or add images)")
    test = None
    if data.use_test:
        if "test" not in sources:
            raise ConfigError(
                f"data.use_test is true but source {data.source!r} has no test split "
                f"(splits: {', '.join(sorted(sources))})"
            )
        test = sources["test"]
    return Splits(train=train, val=val, test=test)


def checkpoint_dir_for(config: Config, runs_dir: Path) -> Path:
    """Where an MLP run keeps its per-epoch checkpoints until it finishes (keyed by config)."""
    return Path(runs_dir) / ".checkpoints" / f"{config.name}-{config.digest()[:12]}"


def run_experiment(
    config: Config,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    command: Sequence[str] | None = None,
    replace: bool = False,
) -> RunResult:
    """Run one experiment and write its folder at `run_dir`, atomically; returns where it went.

    The folder holds ``config.yaml`` (resolved), ``metrics.json``, ``model.json``/``model.npz``
    and plots; MLP runs add ``history.json``. An existing folder at `run_dir` is replaced only
    with `replace`; otherwise the run goes to the first free ``<run_dir>-2``, ``-3``, ...
    Any OSError while writing becomes an OutputError naming the path.
    """
    run_dir = Path(run_dir)
    atomic.clear_dead_writers(run_dir.parent)
    timer = StageTimer()
    started = provenance.now_iso()
    with timer("load_data"):
        splits = load_splits(config, progress)
    named = splits.named()
    checkpoints = checkpoint_dir_for(config, run_dir.parent)
    if config.classifier == "fusion":
        fitted = _fit_fusion(config, splits, timer, progress)
    else:
        fitted = _fit_pipeline(config, config.classifier, config.features, config.svm, splits, timer, progress,
                               checkpoints, resume)
        with timer("predict"):
            # test_flips scores the evaluated splits with their mirrors (an MLP's: MirrorVote), never train
            scorer = fitted.model.named_steps["classifier"]
            fitted.predicted = {name: (fitted.classifier if name == "train" else scorer).predict(fitted.features[name])
                                for name in named}
    scores = {name: classification_scores(ds.labels, fitted.predicted[name], ds.class_names) for name, ds in named.items()}
    throughput = _throughput(fitted.model, splits.val.images)

    data = {
        "source": splits.train.source,
        "class_names": list(splits.train.class_names),
        "image_shape": list(splits.train.images.shape[1:]),
        "sizes": {name: len(ds) for name, ds in named.items()},
        "fingerprints": {name: ds.fingerprint() for name, ds in named.items()},
    }
    metrics = run_folder.metrics_record(
        config, feature_dim=fitted.n_features, scores=scores, selection=fitted.selection, timings=timer.seconds,
        feature_stages=fitted.stage_seconds, cache_hits=fitted.hits, images_per_s=throughput, data=data,
        started=started, command=command, feature_costs=fitted.costs,
    )
    metrics["feature_fit"] = fitted.feature_fit
    if fitted.members is not None:
        metrics["members"] = fitted.members
    run_dir = _write_run(run_dir, config, fitted.model, metrics, fitted.classifier, splits, replace,
                         (splits.val.labels, fitted.predicted["val"]))
    if checkpoints.exists():
        shutil.rmtree(checkpoints, ignore_errors=True)
    return RunResult(run_dir=run_dir, metrics=metrics)


@dataclass
class FittedPipeline:
    """A run's fitted features and classifier, with what computing the features took per stage."""

    model: object            # images in, classes out (featpipe.pipeline.assemble)
    classifier: object
    selection: dict | None
    n_features: int
    features: dict | None    # split name -> features (None once scored, to free them)
    stage_seconds: dict
    hits: dict
    costs: dict
    feature_fit: dict        # extractor -> what fitting it left to know (e.g. BoVW's dead words)
    predicted: dict = field(default_factory=dict)
    members: dict | None = None


def _fit_pipeline(config, classifier_kind, features_config, svm_config, splits, timer, progress, checkpoints=None,
                  resume=False, prefix: str = "") -> FittedPipeline:
    """Features (via the cache) and the classifier ("svm" or "mlp") of one pipeline: the run's, or a fusion member's."""
    # test_flips: a linear classifier scores the mean of an image's and its mirror's features, an
    # MLP the pair itself (the mean of its probabilities: featpipe.features.mirror)
    paired = features_config.test_flips and classifier_kind == "mlp"
    with timer("features"):
        computed = _compute_features(config, features_config, splits, progress, paired)
    extractor, features = computed.fitted, computed.features
    n_features = int(features["train"].shape[1])
    n_rows = len(splits.train) * (2 if FLIPPED in features else 1)
    memory.check_training(config, n_rows, n_features, len(splits.train.class_names))
    with timer("train"):
        classifier, selection = _fit_classifier(config, classifier_kind, features_config, svm_config, splits, features,
                                                n_features, checkpoints, resume, progress,
                                                getattr(extractor, "block_slices_", None))
    if paired:
        model_features, scorer = MirrorPaired(extractor), MirrorVote(classifier)
    else:
        model_features = MirrorAveraged(extractor) if features_config.test_flips else extractor
        scorer = classifier
    return FittedPipeline(
        model=pipeline.assemble(model_features, scorer), classifier=classifier, selection=selection,
        n_features=n_features, features=features,
        stage_seconds={prefix + k: v for k, v in computed.seconds.items()},
        hits={prefix + k: v for k, v in computed.hits.items()},
        costs={prefix + k: v for k, v in computed.cost.items()},
        feature_fit={prefix + name: part.fit_report() for name, part in extractor.extractors if hasattr(part, "fit_report")},
    )


def _fit_fusion(config: Config, splits: Splits, timer: StageTimer, progress: bool) -> FittedPipeline:
    """Fit every fusion member in turn (freeing its features once scored), then fuse their scores."""
    named = splits.named()
    fitted, scores = {}, {}
    for name, member in config.fusion.members.items():
        part = _fit_pipeline(config, "svm", member.features, member.svm, splits, timer, progress, prefix=f"{name}.")
        with timer("predict"):
            scores[name] = {split: part.classifier.decision_function(part.features[split]) for split in named}
        part.features = None
        fitted[name] = part
    model_features = FeatureConcat.of_fitted([(name, part.model.named_steps["features"]) for name, part in fitted.items()],
                                             [part.n_features for part in fitted.values()])
    fusion = LateFusion(members=[(name, part.classifier) for name, part in fitted.items()],
                        columns=dict(model_features.block_slices_), weights=config.fusion.weight_list())
    fusion.fit_scales([scores[name]["train"] for name in fitted])
    with timer("predict"):
        predicted = {split: fusion.predict_from(fusion.fuse([scores[name][split] for name in fitted])) for split in named}
    members = {}
    for (name, part), weight, scale in zip(fitted.items(), fusion.member_weights(), fusion.scale_):
        own = {split: float(np.mean(fusion.predict_from(class_scores(scores[name][split])) == ds.labels))
               for split, ds in named.items()}
        members[name] = {"features": list(config.fusion.members[name].features.extractors()),
                         "feature_dim": part.n_features, "accuracy": own, "selection": part.selection,
                         "weight": float(weight), "score_scale": round(float(scale), 6)}
    merged = {key: {k: v for part in fitted.values() for k, v in getattr(part, key).items()}
              for key in ("stage_seconds", "hits", "costs", "feature_fit")}
    return FittedPipeline(model=pipeline.assemble(model_features, fusion), classifier=fusion, selection=None,
                          n_features=model_features.n_features_out_, features=None, predicted=predicted,
                          members=members, **merged)


def _compute_features(config: Config, features_config, splits: Splits, progress: bool, paired: bool = False):
    """Fit the extractors of `features_config` on the training split and transform every split, via the cache.

    Mirrored images are inputs of their own, keyed apart from the originals (whose cached features
    and fitted extractor are reused): with train_flips the training images' (rows of their own,
    FLIPPED), with test_flips every evaluated split's, averaged into that split's features here
    (`paired`: set beside them instead, [own | mirror], as MirrorPaired gives them).
    """
    cache = None
    if config.output.feature_cache:
        cache = FeatureCache(cache_root(config.data.cache_dir) / "feature-cache")
    extractor = pipeline.build_features(features_config, config.seed)
    named = splits.named()
    inputs = {name: (ds.images, ds.fingerprint()) for name, ds in named.items()}
    if features_config.train_flips:
        inputs[FLIPPED] = _mirrored(splits.train)
    averaged = [name for name in named if name != "train"] if features_config.test_flips else []
    inputs.update({flipped(name): _mirrored(named[name]) for name in averaged})
    token = show_progress.set(bool(progress))  # plain lines in a log, a bar on a terminal (featpipe.progress)
    try:
        computed = cached_features(extractor, splits.train.images, splits.train.fingerprint(), inputs, cache, config.seed)
    finally:
        show_progress.reset(token)
    for name in averaged:  # a copy: the cache may hand out read-only arrays
        own, mirror = computed.features[name], computed.features.pop(flipped(name))
        computed.features[name] = (np.concatenate([own, mirror], axis=1, dtype=np.float32) if paired
                                   else mirror_mean(np.array(own, dtype=np.float32), mirror))
    return computed


def _mirrored(dataset: Dataset) -> tuple[np.ndarray, str]:
    """A split's mirror images and their fingerprint, for the feature cache."""
    return np.ascontiguousarray(flip_horizontal(dataset.images)), dataset.fingerprint() + ":hflip"


def _fit_classifier(config, classifier_kind, features_config, svm_config, splits, features, n_features, checkpoints,
                    resume, progress, blocks=None):
    """Fit the configured classifier; returns it and a record of any model selection.

    With features.train_flips the mirrored training images are training rows too, after the originals;
    `features` then keeps the originals as a view of that matrix, so no copy of either is left behind.
    """
    X_train, y_train, y_val = features["train"], splits.train.labels, splits.val.labels
    if FLIPPED in features:
        X_train, y_train = np.concatenate([X_train, features.pop(FLIPPED)]), np.concatenate([y_train, y_train])
        features["train"] = X_train[:len(splits.train)]  # a view: the separate copies are freed
    if classifier_kind == "svm":
        return search_c(
            lambda C: pipeline.build_svm(svm_config, C, len(y_train), n_features, config.seed, progress),
            svm_config.c_values(), X_train, y_train, features["val"], y_val,
            widen=svm_config.widen, solver=pipeline.svm_solver(svm_config, n_features), blocks=blocks,
            progress=progress,
        )

    pixels = has_pixel_layout(features_config.extractors())
    input_shape = tuple(splits.train.images.shape[1:]) if pixels else None
    mlp = pipeline.build_mlp(config, input_shape, progress)
    X_val = features["val"][:, :n_features]  # the images alone when test_flips paired them with mirrors
    mlp.fit(X_train, y_train, X_val=X_val, y_val=y_val,
            checkpoint_dir=checkpoints, resume=resume)
    return mlp, None


def _throughput(model, images: np.ndarray) -> float:
    """End-to-end prediction speed (images/s) on up to THROUGHPUT_SAMPLE images."""
    sample = images[:THROUGHPUT_SAMPLE]
    start = time.perf_counter()
    model.predict(sample)
    return round(len(sample) / max(time.perf_counter() - start, 1e-9), 1)


def _write_run(run_dir: Path, config: Config, model, metrics: dict, classifier, splits: Splits,
               replace: bool, predictions) -> Path:
    history = getattr(classifier, "history_", None)

    def files(folder: Path) -> None:
        model_io.save(model, folder)
        if config.output.plots:
            _plots(folder, config, metrics, classifier, splits, history)

    return run_folder.write_run(run_dir, config, metrics, history=history, files=files, replace=replace,
                                predictions=predictions)


def _plots(folder: Path, config: Config, metrics: dict, classifier, splits: Splits, history) -> None:
    from . import plots  # matplotlib costs about a second at import: only runs that plot pay it

    split = "test" if "test" in metrics["scores"] else "val"
    score = metrics["scores"][split]
    plots.confusion_matrix(score["confusion"], metrics["data"]["class_names"], folder / "confusion.png",
                           title=f"{config.name}: {split} accuracy {score['accuracy']:.1%}")
    if history:
        plots.learning_curves(history, folder / "learning_curves.png", title=config.name)
    shape = getattr(classifier, "input_shape", None)
    if shape is not None:
        from .nn.templates import first_layer_templates

        templates = first_layer_templates(classifier, tuple(shape))[:50]
        plots.image_grid(templates, folder / "templates.png", ncols=10,
                         title="first-layer weights as image templates")


def read_run(run_dir: str | Path) -> dict:
    """The metrics of a finished run folder, of any format (raises ModelError if it is not one)."""
    return run_folder.read_metrics(run_dir)
