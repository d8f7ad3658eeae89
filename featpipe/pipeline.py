"""Config -> scikit-learn estimators: the feature extractors, the classifier, the whole model.

No I/O and no fitting here: the runner decides what to fit on which split.
"""

from __future__ import annotations

from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from .config import Config, FeaturesConfig, SvmConfig
from .features import FeatureConcat, make_extractor

#: Above this many feature dimensions, solver "auto" trains the SVM by SGD: liblinear's exact
#: solver took minutes to hours on CIFAR-10's 3,072 raw pixels.
SGD_ABOVE_DIMENSIONS = 2048

_SEEDED_EXTRACTORS = {"bovw"}


def build_features(features: FeaturesConfig, seed: int) -> FeatureConcat:
    """The concatenation of the configured extractors, each seeded from the run's seed."""
    extractors = []
    for kind, settings in features.extractors().items():
        kwargs = settings.model_dump()
        if kind in _SEEDED_EXTRACTORS:
            kwargs["random_state"] = seed
        extractors.append((kind, make_extractor(kind, **kwargs)))
    return FeatureConcat(extractors=extractors, normalize=features.normalize)


def build_svm(svm: SvmConfig, C: float, n_samples: int, n_features: int, seed: int):
    """A linear SVM with margin parameter `C`, solved by liblinear or by SGD."""
    solver = svm.solver
    if solver == "auto":
        solver = "sgd" if n_features > SGD_ABOVE_DIMENSIONS else "liblinear"
    if solver == "liblinear":
        return LinearSVC(C=C, loss=svm.loss, dual=True, max_iter=svm.max_iter, tol=svm.tol, random_state=seed)
    # SGD minimizes alpha/2 |w|^2 + mean(hinge); LinearSVC minimizes 1/2 |w|^2 + C sum(hinge),
    # so the same regularization strength is alpha = 1 / (C n).
    return SGDClassifier(
        loss=svm.loss, alpha=1.0 / (C * n_samples), max_iter=min(svm.max_iter, 100), tol=svm.tol,
        average=True, random_state=seed,
    )


def build_mlp(config: Config, input_shape: tuple[int, ...] | None, progress: bool):
    """featpipe's NumPy MLP with the config's settings, seeded from the run's seed."""
    from .nn import MLPClassifier

    settings = config.mlp.model_dump()
    settings["hidden_sizes"] = tuple(settings["hidden_sizes"])
    return MLPClassifier(**settings, input_shape=input_shape, random_state=config.seed, progress=progress)


def assemble(features: FeatureConcat, classifier) -> Pipeline:
    """The model a run saves: images in, class indices out."""
    return Pipeline([("features", features), ("classifier", classifier)])
