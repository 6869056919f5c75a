"""The compression stage: a compressed copy of a torch model directory, compared with the original side by side.

:func:`compress` writes a new model directory (the card notes the method and where it came from) and measures, for
the original and the compressed model on the same rows: the size of the model directory on disk, the latency of
predicting one batch (median of several runs), and the metric. The metric is taken on the study's held-out rows
when it has some; otherwise on the first CV fold: the configuration is refitted on that fold's training rows,
compressed the same way, and both are scored on its validation rows (scoring the directory's own model on rows
it was fitted on would flatter both).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.artifacts import CARD, load_model, save_model, write_card
from automl.costs import LATENCY_ROWS, latency_ms
from automl.cv import make_splits
from automl.datasets import subset
from automl.devices import resolve_device
from automl.exceptions import ConfigError
from automl.features import take
from automl.metrics import get_metric
from automl.model import FittedModel, Model, fit
from automl.refit import study_rows

__all__ = ["Comparison", "compress"]

#: Timed runs (after one warm-up) whose median is a model's latency on a batch of
#: :data:`automl.costs.LATENCY_ROWS` rows.
LATENCY_RUNS = 7


@dataclass(frozen=True)
class Comparison:
    """Original and compressed model side by side: ``rows`` holds one dict per model (``model``, ``size_bytes``,
    ``latency_ms``, ``metric``); ``evaluated_on`` says which rows the metric comes from."""

    out: Path
    metric: str
    evaluated_on: str
    rows: list[dict[str, Any]]


def _compressed(fitted: FittedModel, method: str) -> FittedModel:
    trained = fitted.trained
    assert trained is not None
    from automl.compression import compress_module  # (torch: imported when a model is compressed, not before)
    from automl.training import Trained

    module = compress_module(trained.module, method)
    return FittedModel(fitted.config, fitted.problem,
                       trained=Trained(module, trained.classification, trained.y_mean, trained.y_std), device="cpu")


def _size(directory: Path, card: dict[str, Any]) -> int:
    """The size of the model's own files (its card and the files it lists), not of anything else in the folder
    (``automl export`` writes ``model.onnx`` there by default)."""
    return sum((directory / name).stat().st_size for name in [CARD, *card["files"].values()])


def compress(model_dir: str | Path, method: str, out: str | Path, *, device: str = "auto") -> Comparison:
    """Compress the torch model in ``model_dir`` with ``method`` (see :mod:`automl.compression`), write it to
    ``out``, and compare the two (see the module docstring); the comparison is also stored in the new card."""
    from automl.compression import check_method

    check_method(method)
    source = Path(model_dir)
    original = load_model(source, device="cpu")
    if original.fitted.trained is None:
        raise ConfigError(f"{source}: compress applies to torch models; {original.card['plugins']['model']['name']!r} "
                          "is a scikit-learn model")
    if original.card.get("compression"):
        raise ConfigError(f"{source}: already compressed ({original.card['compression']['method']}); compress the "
                          "original model directory")
    card = original.card
    metric = get_metric(card["metric"]["name"], card["kind"])
    data = card["data"]
    rows, held_out = study_rows(data["ref"], data["fingerprint"], data["holdout"], data["seed"])
    if held_out is not None:
        before = original.fitted
        evaluated_on, valid = f"the study's {len(held_out)} held-out rows", held_out
    else:
        train, valid_index = make_splits(rows, card["scores"]["folds"], data["seed"])[0]
        torch_device = resolve_device(device)
        before, _ = fit(original.fitted.config, subset(rows, train).X, rows.y[train], task=rows.task, kind=rows.kind,
                        n_outputs=rows.n_outputs, seed=card["problem"]["seed"], device=torch_device)
        valid = subset(rows, valid_index)
        evaluated_on = f"CV fold 1 of {card['scores']['folds']}: refitted on its {len(train)} training rows, " \
                       f"scored on its {len(valid)} validation rows"
    compressed = Model(_compressed(original.fitted, method),
                       {**card, "compression": {"method": method, "from": str(source)}})
    target = save_model(compressed, out)
    batch = take(valid.X, np.arange(min(LATENCY_ROWS, len(valid))))
    comparison = [
        {"model": label, "size_bytes": size, "latency_ms": latency_ms(served, batch, LATENCY_RUNS),
         "metric": scored.score(valid.X, valid.y, metric)}
        for label, size, served, scored in (
            ("original", _size(source, card), original.fitted, before),
            (method, _size(target, compressed.card), compressed.fitted, _compressed(before, method)))
    ]
    compressed.card["compression"]["report"] = {"metric": metric.name, "evaluated_on": evaluated_on,
                                                "rows": comparison}
    write_card(target, compressed.card)
    return Comparison(target, metric.name, evaluated_on, comparison)
