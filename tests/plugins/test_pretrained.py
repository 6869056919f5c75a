"""The pretrained-transformer plugins (the ``transformers`` extra): conformance, accuracy on slices of the default
NLP data, parity with sentence-transformers, the embedding cache, the fine-tuning optimizer, offline searches and
the error for a bad checkpoint path."""

from __future__ import annotations

import importlib.util
import re
import socket
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest

pytest.importorskip("transformers")

import torch  # noqa: E402
from automl_plugins.nlp import _pretrained, pretrained  # noqa: E402
from automl_plugins.nlp._pretrained import MeanPooledEncoder, SentenceEncoder, TokenIds  # noqa: E402
from automl_plugins.nlp.pretrained import (  # noqa: E402
    CHECKPOINT_ENV,
    PACKAGED,
    PretrainedTransformer,
    SentenceEmbeddings,
)

import automl  # noqa: E402
from automl.cv import FoldReporter, cross_validate, make_splits  # noqa: E402
from automl.datasets import Dataset, load_dataset, make_dataset  # noqa: E402
from automl.exceptions import PluginError  # noqa: E402
from automl.metrics import get_metric  # noqa: E402
from automl.protocols import ModelPlugin, Problem  # noqa: E402
from automl.registry import PluginRecord, discover  # noqa: E402
from automl.reporter import MemoryReporter
from automl.space import Config  # noqa: E402
from automl.testing import check_plugin  # noqa: E402

MAJORITY = 0.578  # share of the larger class in the default NLP data
TEXTS = ["a gorgeous , witty , seductive movie .", "dull", "",
         "the plot is thin and the actors look bored , but the score is lovely and the ending works"]


def _sample(n: int) -> Dataset:
    """A stratified ``n``-row sample of the default NLP data."""
    data = load_dataset("nlp")
    rows = np.sort(make_splits(data, 3, 0)[0][1][:n])  # a validation fold is a stratified sample
    return make_dataset(f"reviews-{n}", "nlp", data.X[rows], np.asarray(data.classes)[data.y[rows]], "builtin",
                        kind="classification")


def _score(plugin: ModelPlugin, params: dict[str, Any], data: Dataset) -> float:
    record = PluginRecord("model", plugin.name, "x:y", "test", "1", plugin=plugin)
    metric = get_metric(None, data.kind)
    split = make_splits(data, 4, 0)[:1]  # one 75/25 split
    return cross_validate(Config(model=record, model_params=params), data, split, metric,
                          FoldReporter(MemoryReporter(), metric), seed=0, device=torch.device("cpu")).mean


@pytest.mark.parametrize("plugin", [PretrainedTransformer, SentenceEmbeddings], ids=lambda p: p.name)
def test_conformance(plugin: type[ModelPlugin]) -> None:
    check_plugin(plugin(), "model", n_samples=2)


def test_registered_with_their_flags() -> None:
    registry = discover()
    fine_tuning = registry.get("model", "pretrained_transformer").plugin
    assert fine_tuning.heavy and fine_tuning.owns_optimizer and fine_tuning.family == "torch"
    frozen = registry.get("model", "sentence_embeddings").plugin
    assert frozen.heavy and not frozen.owns_optimizer and frozen.family == "sklearn"


def test_sentence_embeddings_beat_the_majority_baseline() -> None:
    params = {"checkpoint": PACKAGED, "alpha": 1e-3}
    assert _score(SentenceEmbeddings(), params, _sample(1000)) > 0.70 > MAJORITY


def test_fine_tuning_beats_the_majority_baseline() -> None:
    params = {"checkpoint": PACKAGED, "lr": 1e-4, "head_lr": 3e-3, "warmup_ratio": 0.1, "batch_size": 16,
              "epochs": 2, "frozen_layers": 3}
    assert _score(PretrainedTransformer(), params, _sample(240)) > 0.65 > MAJORITY


def test_embeddings_match_sentence_transformers() -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    texts = [*TEXTS[:2], TEXTS[3], "an otherwise excellent film is let down by its last act ."]
    reference = sentence_transformers.SentenceTransformer(str(pretrained.checkpoint_dir(PACKAGED)), device="cpu")
    expected = reference.encode(texts, convert_to_numpy=True)
    encoder = SentenceEmbeddings().featurizer({"checkpoint": PACKAGED, "alpha": 1.0})
    assert encoder.max_len == 256  # all-MiniLM-L6-v2's max_seq_length
    assert np.allclose(encoder.fit_transform(texts), expected, atol=1e-5)


def test_embeddings_are_cached_per_text(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    encode = _pretrained.encode

    def counting(checkpoint: str, texts: list[str], max_len: int, batch_size: int = 64) -> np.ndarray:
        calls.append(list(texts))
        return encode(checkpoint, texts, max_len, batch_size)

    monkeypatch.setattr(_pretrained, "encode", counting)
    _pretrained.clear_embedding_cache()
    encoder = SentenceEncoder(PACKAGED, max_len=32)
    first = encoder.fit_transform(["dull", "dull", "witty"])
    again = encoder.transform(["witty", "dull"])
    assert calls == [["dull", "witty"]]  # each distinct text encoded once, then served from the cache
    assert np.array_equal(again, first[[2, 0]])
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)

    monkeypatch.setattr(_pretrained, "CACHE_LIMIT", 3)  # full: new texts are encoded but not kept
    more = encoder.transform(["bored", "lovely", "dull"])
    assert calls[-1] == ["bored", "lovely"]
    encoder.transform(["lovely"])
    assert calls[-1] == ["lovely"] and np.array_equal(more[2], first[0])
    _pretrained.clear_embedding_cache()


def _module(frozen_layers: int = 0) -> tuple[MeanPooledEncoder, np.ndarray]:
    ids = TokenIds(PACKAGED, max_len=32).fit(TEXTS)
    problem = Problem("nlp", "classification", 2, (32,), ids, seed=0)
    params = {"checkpoint": PACKAGED, "frozen_layers": frozen_layers}
    torch.manual_seed(0)
    return PretrainedTransformer().build(params, problem), ids.transform(TEXTS)


def test_padding_does_not_change_the_output() -> None:
    module, ids = _module()
    module.eval()
    ids_t = torch.as_tensor(ids)
    assert (ids_t[:, -1] == 0).all()  # every row carries padding ([PAD] is 0)
    with torch.no_grad():
        batched = module(ids_t)
        for row, text in enumerate(TEXTS):
            length = int((ids_t[row] != 0).sum())
            alone = module(ids_t[row : row + 1, :length])
            assert torch.allclose(batched[row], alone[0], atol=1e-5), text


def test_frozen_layers_and_the_fine_tuning_optimizer() -> None:
    module, _ = _module(frozen_layers=2)
    trainable = {name for name, p in module.named_parameters() if p.requires_grad}
    assert not any(name.startswith(("encoder.embeddings.", "encoder.pooler.", "encoder.encoder.layer.0.",
                                    "encoder.encoder.layer.1.")) for name in trainable)
    assert any(name.startswith("encoder.encoder.layer.2.") for name in trainable) and "head.weight" in trainable

    params = {"lr": 1e-4, "head_lr": 1e-2, "warmup_ratio": 0.2}
    optimizer, scheduler = PretrainedTransformer().build_optimizer(params, module, {"weight_decay": 0.01}, 10)
    assert isinstance(optimizer, torch.optim.AdamW) and scheduler is not None
    groups = optimizer.param_groups
    assert sum(len(g["params"]) for g in groups) == len(trainable)
    head = next(g for g in groups if any(p is module.head.weight for p in g["params"]))
    assert head["initial_lr"] == 1e-2 and head["weight_decay"] == 0.01
    bias = next(g for g in groups if any(p is module.head.bias for p in g["params"]))
    assert bias["weight_decay"] == 0.0
    encoder = next(g for g in groups if g is not head and g is not bias and g["weight_decay"] == 0.01)
    rates = []
    for _ in range(10):
        rates.append(encoder["lr"] / 1e-4)
        optimizer.step()
        scheduler.step()
    # 2 warm-up steps rise to the base rate, then a linear fall that stays above zero on the last step
    assert np.allclose(rates, [1 / 3, 2 / 3, 1.0, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8])


def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_search_runs_offline(tmp_path: Path, storage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _offline(monkeypatch)
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    data = _sample(48)
    path = tmp_path / "reviews.csv"
    pd.DataFrame({"text": data.X, "label": np.asarray(data.classes)[data.y]}).to_csv(path, index=False)
    result = automl.search("nlp", path, models=["pretrained_transformer"], n_trials=2, folds=2, storage=storage,
                           device="cpu", seed=0, registry=discover())
    trials = result.study.trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2, [t.user_attrs for t in trials]
    for trial in trials:
        assert trial.params["model.pretrained_transformer.checkpoint"] == PACKAGED
        assert not any(name.startswith("optimizer") for name in trial.params)  # the model owns its optimizer
        assert 0.0 <= trial.value <= 1.0


def test_a_missing_checkpoint_is_one_clear_error(tmp_path: Path, storage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "no-such-model"
    monkeypatch.setenv(CHECKPOINT_ENV, str(missing))
    message = re.escape(f"pretrained checkpoint '{missing}' (from {CHECKPOINT_ENV}): no such directory")
    with pytest.raises(PluginError, match=message):
        PretrainedTransformer()
    registry = discover()
    assert {r.name for r in registry.broken} >= {"pretrained_transformer", "sentence_embeddings"}
    with pytest.raises(PluginError, match=message):
        automl.search("nlp", models=["pretrained_transformer"], n_trials=1, storage=storage, registry=registry)

    missing.mkdir()  # a directory without config.json is not a checkpoint either
    with pytest.raises(PluginError, match="no readable config.json"):
        SentenceEmbeddings()


def test_without_transformers_the_module_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "transformers" else find_spec(name, *args))
    spec = importlib.util.spec_from_file_location("automl_plugins.nlp._pretrained_probe", pretrained.__file__)
    assert spec is not None and spec.loader is not None
    with pytest.raises(ImportError, match=re.escape("pip install 'automl[transformers]'")):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


def test_the_cli_pretrained_option_points_the_plugins_at_a_checkpoint(tmp_path: Path, storage: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from automl_cli import app
    from typer.testing import CliRunner

    monkeypatch.setenv(CHECKPOINT_ENV, "")  # restored after the test: the option sets it in this process
    missing = tmp_path / "no-such-model"
    result = CliRunner().invoke(app, ["search", "--task", "nlp", "--models", "pretrained_transformer", "--pretrained",
                                      str(missing), "--storage", storage, "-q"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        f"error: model plugin 'pretrained_transformer' (automl {automl.__version__}) is broken: import failed: "
        f"PluginError: pretrained checkpoint '{missing}' (from {CHECKPOINT_ENV}): no such directory"]


def test_a_half_precision_checkpoint_is_fine_tuned_in_float32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    packaged = pretrained.checkpoint_dir(PACKAGED)
    half = tmp_path / "minilm-fp16"
    transformers.AutoModel.from_pretrained(str(packaged), local_files_only=True).half().save_pretrained(half)
    transformers.AutoTokenizer.from_pretrained(str(packaged), local_files_only=True).save_pretrained(half)
    monkeypatch.setenv(CHECKPOINT_ENV, str(half))
    plugin = PretrainedTransformer()
    assert plugin.checkpoint == str(half.resolve())
    params = {"checkpoint": plugin.checkpoint, "frozen_layers": 0}
    ids = TokenIds(checkpoint=plugin.checkpoint).fit(TEXTS)
    module = plugin.build(params, Problem("nlp", "classification", 2, (128,), ids, seed=0))
    assert {p.dtype for p in module.parameters()} == {torch.float32}
    logits = module(torch.as_tensor(ids.transform(TEXTS)))
    logits.sum().backward()
    assert logits.shape == (len(TEXTS), 2) and torch.isfinite(logits).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fine_tuning_trains_under_bf16_autocast_on_a_gpu() -> None:
    data = _sample(120)
    params = {"checkpoint": PACKAGED, "lr": 1e-4, "head_lr": 3e-3, "warmup_ratio": 0.1, "batch_size": 16,
              "epochs": 1, "frozen_layers": 0}
    record = PluginRecord("model", "pretrained_transformer", "x:y", "test", "1", plugin=PretrainedTransformer())
    metric = get_metric(None, data.kind)
    result = cross_validate(Config(model=record, model_params=params), data, make_splits(data, 2, 0)[:1], metric,
                            FoldReporter(MemoryReporter(), metric), seed=0, device=torch.device("cuda"))
    assert 0.0 <= result.mean <= 1.0
