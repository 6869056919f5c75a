"""The held-out rows of a study: set aside before any cross-validation, scored once, by the refitted best model.

``search(holdout=0.2)`` splits the data with :func:`split_holdout` (stratified for classification, fixed by the
study's seed); trials only ever see the other rows. The split's fraction and a digest of the held-out rows join the
study's identity, so a resume with another holdout is refused. After the search, the best trial's configuration is
refitted on all the search rows and scored on the held-out rows (:func:`automl.refit.score_holdout`); that score
is stored on the study apart from the CV score, never mixed with it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

from automl.exceptions import ConfigError, DataError

if TYPE_CHECKING:  # scikit-learn and pandas load with the split, not with ATTR (read by `automl studies`)
    from automl.datasets import Dataset

__all__ = ["ATTR", "check_fraction", "split_holdout"]

#: Study user attribute holding the held-out score: ``{"trial", "score", "rows"}``.
ATTR = "automl.holdout"


def check_fraction(fraction: float | None) -> None:
    """A holdout is a fraction strictly between 0 and 1 (or ``None``: no holdout)."""
    if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
                                 or not 0 < fraction < 1):
        raise ConfigError(f"holdout must be a fraction between 0 and 1 (e.g. 0.2), got {fraction!r}")


def split_holdout(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset, str]:
    """``(search rows, held-out rows, identity)`` of ``dataset``: ``fraction`` of its rows set aside, stratified by
    class for classification, fixed by ``seed``; the identity (``"0.2:<digest of the held-out rows>"``) is stored
    with the study."""
    from sklearn.model_selection import train_test_split

    from automl.datasets import subset

    check_fraction(fraction)
    index = np.arange(len(dataset))
    stratify = dataset.y if dataset.kind == "classification" else None
    try:
        search_rows, held_out = train_test_split(index, test_size=fraction, random_state=seed, stratify=stratify)
    except ValueError as exc:  # too few rows, or a class too rare to be split
        raise DataError(f"{dataset.name}: cannot set aside a holdout of {fraction:g}: {exc}") from exc
    search_rows, held_out = np.sort(search_rows), np.sort(held_out)
    digest = hashlib.sha256(held_out.astype(np.int64).tobytes()).hexdigest()[:16]
    return subset(dataset, search_rows), subset(dataset, held_out), f"{fraction:g}:{digest}"
