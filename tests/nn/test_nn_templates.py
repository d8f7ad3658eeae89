"""First-layer weights as images."""

import numpy as np
import pytest

from featpipe.errors import InputError
from featpipe.nn import MLPClassifier
from featpipe.nn.templates import first_layer_templates


def test_templates_are_the_first_layer_weights_rescaled():
    rng = np.random.default_rng(0)
    X, y = rng.random((60, 2 * 3 * 3), dtype=np.float32), rng.integers(0, 3, 60)
    mlp = MLPClassifier(hidden_sizes=(), input_shape=(2, 3, 3), epochs=2, random_state=0).fit(X, y)
    images = first_layer_templates(mlp)
    assert images.shape == (3, 2, 3, 3) and images.dtype == np.float32
    for k in range(3):
        assert images[k].min() == 0.0 and images[k].max() == pytest.approx(1.0)
        w = mlp.coefs_[0][:, k]
        np.testing.assert_allclose(images[k].ravel(), (w - w.min()) / (w.max() - w.min()), rtol=1e-5, atol=1e-6)
    mlp.coefs_[0][:, 1] = 3.0  # a constant unit becomes a zero image, not NaN
    assert np.all(first_layer_templates(mlp, (2, 3, 3))[1] == 0)


def test_templates_need_a_matching_shape_and_a_fitted_model():
    with pytest.raises(InputError, match="needs a fitted MLP"):
        first_layer_templates(MLPClassifier(), (2, 3, 3))
    mlp = MLPClassifier(hidden_sizes=(4,), epochs=1, random_state=0).fit(np.eye(6, dtype=np.float32), [0, 1] * 3)
    with pytest.raises(InputError, match=r"input_shape=\(2, 2, 2\) must be \(H, W, C\) with H\*W\*C equal to the 6 inputs"):
        first_layer_templates(mlp, (2, 2, 2))
