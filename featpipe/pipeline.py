"""Config -> scikit-learn estimators: the feature extractors, the classifier, the whole model.

No I/O and no fitting here: the runner decides what to fit on which split.
"""

from __future__ import annotations

from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from .config import Config, FeaturesConfig, SvmConfig
from .features import EXTRACTORS, FeatureConcat, is_seeded, make_extractor
from .svm import LinearSVM

def build_features(features: FeaturesConfig, seed: int) -> FeatureConcat:
    """The concatenation of the configured extractors, each seeded from the run's seed."""
    extractors = []
    for kind, settings in features.extractors().items():
        kwargs = dict(settings)
        if is_seeded(EXTRACTORS[kind]):
            kwargs["random_state"] = seed
        extractors.append((kind, make_extractor(kind, **kwargs)))
    return FeatureConcat(extractors=extractors, normalize=features.normalize)


def svm_solver(svm: SvmConfig, n_features: int) -> str:
    """The solver a config's SVM uses for `n_features` dimensions.

    "auto" is featpipe's Newton solver at every dimension: it trains all classes together with
    BLAS products, so its cost grows like liblinear's per pass over the data but on all cores
    and with few passes (scripts/bench_svm.py measures it against LinearSVC and SGDClassifier).
    liblinear took many minutes on CIFAR-10's 3,072 raw pixels, which is why auto used
    mini-batches above 2,048 dimensions before; Newton needs no such switch. `n_features` is
    kept so that a future rule by dimension has its input.
    """
    return "newton" if svm.solver == "auto" else svm.solver


def build_svm(svm: SvmConfig, C: float, n_samples: int, n_features: int, seed: int, progress: bool = False):
    """A linear SVM with margin parameter `C`.

    All the solvers minimize the same kind of objective, ``1/2 |W|^2 + C * sum(loss)``;
    divided by ``C n`` that is ``mean(loss) + alpha/2 |W|^2`` with ``alpha = 1 / (C n)``, the
    form the SGD solvers take. newton (featpipe.svm.LinearSVM) and liblinear also regularize the
    bias (a constant feature of value 1); newton, liblinear and sgd train one binary SVM per class
    (one-vs-rest; newton can also train the Weston-Watkins multiclass loss), minibatch trains the
    multiclass (Weston-Watkins) hinge loss jointly.
    """
    solver = svm_solver(svm, n_features)
    alpha = 1.0 / (C * n_samples)
    if solver == "newton":
        return LinearSVM(C=C, loss=svm.loss, multiclass=svm.multiclass, tol=svm.tol, max_iter=svm.max_iter,
                         precondition=svm.precondition)
    if solver == "liblinear":
        return LinearSVC(C=C, loss=svm.loss, dual=True, max_iter=svm.max_iter, tol=svm.tol, random_state=seed)
    if solver == "sgd":
        return SGDClassifier(loss=svm.loss, alpha=alpha, max_iter=svm.max_iter, tol=svm.tol, average=True,
                             random_state=seed)
    from .nn import MLPClassifier

    return MLPClassifier(
        hidden_sizes=(), loss="hinge", weight_decay=alpha, optimizer="momentum", momentum=0.9,
        learning_rate=svm.learning_rate, schedule="cosine", epochs=svm.epochs, batch_size=256,
        normalize="none", early_stopping=False, random_state=seed, progress=progress,
    )


def build_mlp(config: Config, input_shape: tuple[int, ...] | None, progress: bool):
    """featpipe's NumPy MLP with the config's settings, seeded from the run's seed.

    `input_shape` is the images' (H, W, C) when raw pixels are the whole feature vector, else
    None. On other features the MLP standardizes each feature again, which undoes
    FeatureConcat's block weighting on purpose (see featpipe.standardize).
    """
    from .nn import MLPClassifier

    # model_dump: nested sections (mlp.augment) as plain dicts, which a saved model can hold
    return MLPClassifier(**config.mlp.model_dump(), input_shape=input_shape, random_state=config.seed,
                         progress=progress)


def assemble(features: FeatureConcat, classifier) -> Pipeline:
    """The model a run saves: images in, class indices out."""
    return Pipeline([("features", features), ("classifier", classifier)])
