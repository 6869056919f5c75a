"""Training rows of models whose cost grows faster than the data: the subsample a fit is capped at.

A model plugin that declares ``max_train_rows`` (:class:`automl.protocols.ModelPlugin`) is fitted on at most that
many training rows: above it, :func:`automl.model.fit` keeps the rows :func:`training_rows` picks, after the
featurizer was fitted on all of them. The pick is stratified for classification (each class keeps its share of the
rows, and at least one), uniform for regression, and a pure function of (the targets, the limit): every trial of a
fold fits on the same rows, so trials compare on equal terms, and a search gives the same scores when run again.
Validation rows are never subsampled: scores are always measured on the whole validation fold.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SUBSAMPLE_SEED", "training_rows"]

#: Seed of the subsample's random draw (fixed: the subsample depends on the data alone, not on the trial).
SUBSAMPLE_SEED = 0


def _class_quotas(counts: np.ndarray, limit: int) -> np.ndarray:
    """Rows to keep of each class: ``limit`` split in proportion to ``counts`` (largest remainders first), at least
    one row of every class present."""
    present = counts > 0
    exact = limit * counts / counts.sum()
    quotas = np.where(present, np.maximum(np.floor(exact).astype(np.int64), 1), 0)
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    for cls in order:  # hand out what flooring left over, largest remainder first
        if quotas.sum() >= limit:
            break
        if quotas[cls] < counts[cls]:
            quotas[cls] += 1
    while quotas.sum() > limit and quotas.max() > 1:  # the ones given to rare classes: trim the largest quotas
        quotas[int(np.argmax(quotas))] -= 1
    return quotas


def training_rows(y: np.ndarray, limit: int, *, classification: bool) -> np.ndarray | None:
    """Sorted positions of the ``limit`` rows of targets ``y`` a capped model is fitted on, or ``None`` when
    ``y`` has no more than ``limit`` rows (all are used). Classification draws per class (stratified); a dataset
    with more classes than ``limit`` keeps one row of each."""
    n = len(y)
    if n <= limit:
        return None
    rng = np.random.default_rng(SUBSAMPLE_SEED)
    if not classification:
        return np.sort(rng.choice(n, size=limit, replace=False))
    classes, codes = np.unique(y, return_inverse=True)
    quotas = _class_quotas(np.bincount(codes, minlength=len(classes)), limit)
    picked = [rng.choice(np.flatnonzero(codes == cls), size=quota, replace=False)
              for cls, quota in enumerate(quotas)]
    return np.sort(np.concatenate(picked))
