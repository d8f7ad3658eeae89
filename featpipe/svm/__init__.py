"""featpipe's linear SVM for dense features and the search over its C.

`LinearSVM` trains every class at once with BLAS products (a truncated Newton method on the
squared hinge, or on smoothed hinges for the hinge); `search_c` fits a grid of C values with
warm starts, widening the grid while the best C sits on its edge.
"""

from .checks import check_features, check_labels
from .estimator import LinearSVM, LinearSVMSettings
from .search import search_c

__all__ = ["LinearSVM", "LinearSVMSettings", "check_features", "check_labels", "search_c"]
