"""scikit-learn's estimator API checks for MLPClassifier."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from featpipe.nn import MLPClassifier

# Small and quick, but enough training for the checks that demand accuracy.
ESTIMATOR = MLPClassifier(hidden_sizes=(16,), optimizer="adam", learning_rate=0.01, epochs=30, batch_size=32, random_state=0)


@parametrize_with_checks([ESTIMATOR])
def test_sklearn_api(estimator, check):
    check(estimator)
