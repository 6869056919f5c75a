"""Featurizing one fold: a fitted clone, training-rows-only statistics, pure outputs; and ``take``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from automl.features import fit_featurizer, take

RNG = np.random.default_rng(0)
X_TRAIN = RNG.normal(5.0, 2.0, (40, 3))
Y_TRAIN = (X_TRAIN[:, 0] > 5.0).astype(int)
X_VALID = RNG.normal(-50.0, 10.0, (10, 3))  # far from the training rows: any leak of its statistics shows


def featurize(featurizer: Any, X_train: Any, y_train: np.ndarray, X_valid: Any) -> tuple[Any, Any, Any]:
    """A fold's featurizing as the engine does it: fitted on the training rows, applied to both sides."""
    fitted, F_train = fit_featurizer(featurizer, X_train, y_train)
    return fitted, F_train, X_valid if fitted is None else fitted.transform(X_valid)


def test_none_passes_the_data_through() -> None:
    fitted, train, valid = featurize(None, X_TRAIN, Y_TRAIN, X_VALID)
    assert fitted is None
    assert train is X_TRAIN and valid is X_VALID


def test_returns_a_fitted_clone_and_leaves_the_argument_unfitted() -> None:
    scaler = StandardScaler()
    fitted, _, _ = featurize(scaler, X_TRAIN, Y_TRAIN, X_VALID)
    assert fitted is not scaler
    assert isinstance(fitted, StandardScaler)
    check_is_fitted(fitted)
    with pytest.raises(NotFittedError):
        check_is_fitted(scaler)


def test_statistics_come_from_the_training_rows_only() -> None:
    fitted, train, valid = featurize(StandardScaler(), X_TRAIN, Y_TRAIN, X_VALID)
    mean, std = X_TRAIN.mean(axis=0), X_TRAIN.std(axis=0)
    np.testing.assert_allclose(fitted.mean_, mean)
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(train.std(axis=0), 1.0)
    np.testing.assert_allclose(valid, (X_VALID - mean) / std)
    # Had the validation rows been seen, their transformed mean would be near 0 too.
    assert (np.abs(valid.mean(axis=0)) > 10).all()


def test_the_featurizer_params_are_kept() -> None:
    fitted, train, _ = featurize(StandardScaler(with_mean=False), X_TRAIN, Y_TRAIN, X_VALID)
    assert fitted.get_params()["with_mean"] is False
    np.testing.assert_allclose(train, X_TRAIN / X_TRAIN.std(axis=0))


def test_the_training_target_is_passed_to_fit() -> None:
    """A supervised featurizer (feature selection) must see y_train: column 0 alone decides the label."""
    fitted, train, valid = featurize(SelectKBest(f_classif, k=1), X_TRAIN, Y_TRAIN, X_VALID)
    np.testing.assert_array_equal(fitted.get_support(), [True, False, False])
    np.testing.assert_array_equal(train, X_TRAIN[:, [0]])
    np.testing.assert_array_equal(valid, X_VALID[:, [0]])


def test_text_vocabulary_comes_from_the_training_rows_only() -> None:
    texts_train = np.array(["good film", "bad film", "good acting"], dtype=object)
    texts_valid = np.array(["unseenword film"], dtype=object)
    fitted, train, valid = featurize(TfidfVectorizer(), texts_train, np.array([1, 0, 1]), texts_valid)
    assert set(fitted.vocabulary_) == {"good", "bad", "film", "acting"}
    assert train.shape == (3, 4)
    assert valid.shape == (1, 4)
    # Only 'film' of the validation text is known, so its (L2-normalised) row is exactly that one term.
    row = valid.toarray()[0]
    assert row[fitted.vocabulary_["film"]] == pytest.approx(1.0)
    assert row.sum() == pytest.approx(1.0)


TEXTS_TRAIN = np.array(["red fox runs", "blue fox sleeps", "red dog runs", "blue dog"], dtype=object)
TEXTS_VALID = np.array(["red cat", "dog runs fast"], dtype=object)


def dense(features):
    return features.toarray() if hasattr(features, "toarray") else np.asarray(features)


@pytest.mark.parametrize("make, X_tr, y_tr, X_va", [
    (StandardScaler, X_TRAIN, Y_TRAIN, X_VALID),
    (lambda: TfidfVectorizer(ngram_range=(1, 2)), TEXTS_TRAIN, np.array([0, 1, 0, 1]), TEXTS_VALID),
], ids=["scaler", "tfidf"])
def test_equal_inputs_give_equal_outputs(make, X_tr, y_tr, X_va) -> None:
    featurizer = make()
    params = featurizer.get_params()
    first = featurize(featurizer, X_tr, y_tr, X_va)
    again = featurize(featurizer, X_tr.copy(), y_tr.copy(), X_va.copy())
    fresh = featurize(make(), X_tr, y_tr, X_va)  # another object with the same params
    for other in (again, fresh):
        for side in (1, 2):
            np.testing.assert_array_equal(dense(first[side]), dense(other[side]))
    assert dense(first[1]).any()  # not trivially equal
    assert featurizer.get_params() == params


def test_a_dataframe_is_accepted() -> None:
    frame = pd.DataFrame(X_TRAIN, columns=["a", "b", "c"])
    valid = pd.DataFrame(X_VALID, columns=["a", "b", "c"])
    _, train_out, valid_out = featurize(StandardScaler(), frame, Y_TRAIN, valid)
    np.testing.assert_allclose(valid_out, (X_VALID - X_TRAIN.mean(axis=0)) / X_TRAIN.std(axis=0))
    assert train_out.shape == frame.shape


# -- take --------------------------------------------------------------------------------------------------


def test_take_numpy_rows() -> None:
    X = np.arange(12).reshape(6, 2)
    index = np.array([4, 0, 2])
    np.testing.assert_array_equal(take(X, index), X[[4, 0, 2]])


def test_take_string_array() -> None:
    X = np.array(["zero", "one", "two", "three"], dtype=object)
    assert list(take(X, np.array([3, 1]))) == ["three", "one"]


def test_take_dataframe_rows_by_position_not_label() -> None:
    frame = pd.DataFrame({"v": [10, 20, 30, 40]}, index=[3, 2, 1, 0])  # labels reverse the positions
    out = take(frame, np.array([0, 3]))
    assert isinstance(out, pd.DataFrame)
    assert list(out["v"]) == [10, 40]
    assert list(out.index) == [3, 0]
