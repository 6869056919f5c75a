"""A support-vector classifier on standardized pixels: strong on small images such as 8x8 digits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem

if TYPE_CHECKING:
    import numpy as np
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC


def flatten(images: np.ndarray) -> np.ndarray:
    """``(n, C, H, W)`` images as ``(n, C*H*W)`` rows."""
    return images.reshape(len(images), -1)


class PixelSVC(ModelPlugin):
    """RBF-kernel SVC on pixels standardized per training fold.

    Space: ``C`` 0.1..100 log (margin softness), ``gamma`` 1e-4..1e-1 log (kernel width; pixels are
    standardized, so 1/n_features ~ 1e-2 sits mid-range).

    No class probabilities (``probability=True`` would fit five extra SVCs per fold for Platt scaling), so a
    search scored by log loss or ROC AUC leaves this model out.

    Cost on big data: a kernel SVC's fit grows with the square of the rows or faster, and its predictions with the
    support vectors times the rows scored. A fit uses at most ``max_train_rows`` (10,000) training rows, a
    stratified subsample, and a search that does not name the model leaves it out above ``max_search_rows``
    (50,000) images.
    """

    name = "pixel_svc"
    api_version = API_VERSION
    tasks = frozenset({"vision"})
    family = "sklearn"
    probabilities = False
    max_train_rows = 10_000
    max_search_rows = 50_000

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("C", 0.1, 100.0, log=True)
        space.suggest_float("gamma", 1e-4, 1e-1, log=True)

    def featurizer(self, params: Mapping[str, Any]) -> Pipeline:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, StandardScaler

        return make_pipeline(FunctionTransformer(flatten), StandardScaler())

    def build(self, params: Mapping[str, Any], problem: Problem) -> SVC:
        from sklearn.svm import SVC

        return SVC(C=params["C"], gamma=params["gamma"])
