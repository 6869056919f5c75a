"""The compression methods and the weights on disk (automl/compression.py): which method names are accepted,
pruning and dynamic int8 quantization of a module (copies; the original stays as it was), the tensors a
quantized module is saved as, and loading them back into the module the plugin builds."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file
from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear

import automl
from automl.compression import check_method, compress_module, load_module, module_tensors
from automl.exceptions import ConfigError
from automl.model import Model

#: ``refitted(model)`` of conftest.py: a ``Refitted(storage, study, data, model_dir)``.
Make = Callable[[str], Any]


def small_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, 3))


def conv_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv1d(4, 6, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(36, 2))


def linears(module: torch.nn.Module) -> list[torch.nn.Module]:
    return [layer for layer in module.modules() if isinstance(layer, torch.nn.Linear)]


def zero_fraction(weight: torch.Tensor) -> float:
    return float((weight == 0).float().mean())


def same_state(a: torch.nn.Module, b: dict[str, torch.Tensor]) -> bool:
    state = a.state_dict()
    return state.keys() == b.keys() and all(torch.equal(state[key], b[key]) for key in b)


# -- method names --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["dynamic-int8", "prune:0.5", "prune:0.1", "prune:.9", "prune:0.999"])
def test_check_method_accepts(method: str) -> None:
    assert check_method(method) == method


@pytest.mark.parametrize("method", ["prune:1", "prune:0", "prune:x", "int4", "prune:-0.5", "prune:1.5", "prune:",
                                    "prune", "prune:nan", "Prune:0.5", "dynamic-int4", "static-int8", ""])
def test_check_method_refuses(method: str) -> None:
    with pytest.raises(ConfigError, match="unknown compression method"):
        check_method(method)


def test_compress_module_refuses_an_unknown_method() -> None:
    with pytest.raises(ConfigError):
        compress_module(small_net(), "int4")


# -- pruning -------------------------------------------------------------------------------------------------------


def test_prune_zeroes_half_of_each_linear_weight_in_a_copy() -> None:
    net = small_net()
    before = copy.deepcopy(net.state_dict())
    pruned = compress_module(net, "prune:0.5")
    assert pruned is not net
    for layer, original in zip(linears(pruned), linears(net), strict=True):
        assert zero_fraction(layer.weight) == pytest.approx(0.5, abs=1 / layer.weight.numel())
        kept = layer.weight != 0
        # the smallest magnitudes went, the biases stayed
        assert original.weight[~kept].abs().max() <= original.weight[kept].abs().min()
        assert torch.equal(layer.weight[kept], original.weight[kept])
        assert torch.equal(layer.bias, original.bias)
    assert same_state(net, before)  # the original is untouched
    assert all(zero_fraction(layer.weight) == 0 for layer in linears(net))


def test_prune_is_permanent_and_in_eval_mode() -> None:
    """No ``weight_orig``/``weight_mask`` left behind (the state keys are the plain module's), no hooks."""
    net = small_net().train()
    pruned = compress_module(net, "prune:0.3")
    assert pruned.state_dict().keys() == net.state_dict().keys()
    assert not any(layer._forward_pre_hooks for layer in pruned.modules())
    assert not pruned.training and net.training
    assert all(zero_fraction(layer.weight) == pytest.approx(0.3, abs=1 / layer.weight.numel())
               for layer in linears(pruned))


def test_prune_applies_to_convolutions_too() -> None:
    pruned = compress_module(conv_net(), "prune:0.5")
    conv = pruned[0]
    assert zero_fraction(conv.weight) == pytest.approx(0.5, abs=1 / conv.weight.numel())


# -- dynamic int8 --------------------------------------------------------------------------------------------------


def test_dynamic_int8_quantizes_the_linears_of_a_copy() -> None:
    net = small_net()
    before = copy.deepcopy(net.state_dict())
    quantized = compress_module(net, "dynamic-int8")
    assert [type(layer) for layer in quantized if not isinstance(layer, torch.nn.ReLU)] == [QuantizedLinear] * 3
    assert [type(layer) for layer in net if not isinstance(layer, torch.nn.ReLU)] == [torch.nn.Linear] * 3
    assert same_state(net, before)
    X = torch.randn(50, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        # close to the float network, not equal to it
        assert torch.allclose(quantized(X), net(X), atol=0.05)
        assert not torch.equal(quantized(X), net(X))


def test_module_tensors_of_a_quantized_module() -> None:
    """Per quantized layer: its int8 weight, scale, zero point and float bias; nothing of the packed form."""
    net = small_net()
    quantized = compress_module(net, "dynamic-int8")
    tensors = module_tensors(quantized)
    names = ["0", "2", "4"]
    assert set(tensors) == {f"{n}.{part}" for n in names
                            for part in ("weight.int8", "weight.scale", "weight.zero_point", "bias")}
    for name, layer, q_layer in zip(names, linears(net), (quantized[int(n)] for n in names), strict=True):
        ints, scale = tensors[f"{name}.weight.int8"], tensors[f"{name}.weight.scale"]
        zero_point = tensors[f"{name}.weight.zero_point"]
        assert ints.dtype == torch.int8 and ints.shape == layer.weight.shape
        assert scale.dtype == torch.float64 and scale.shape == () and float(scale) > 0
        assert zero_point.dtype == torch.int64 and zero_point.shape == ()
        assert torch.equal(tensors[f"{name}.bias"], layer.bias.detach())
        # they are the quantized layer's weight, which is the float weight to within a quantization step
        dequantized = (ints.double() - zero_point) * scale
        assert torch.allclose(dequantized, q_layer.weight().dequantize().double(), rtol=0, atol=1e-7)
        assert (dequantized - layer.weight.detach().double()).abs().max() <= float(scale)


def test_module_tensors_of_a_plain_module_is_its_state() -> None:
    net = small_net()
    tensors = module_tensors(net)
    assert same_state(net, tensors)


# -- loading weights into the module the plugin builds --------------------------------------------------------------


@pytest.fixture(scope="module")
def mlp(refitted: Make) -> Model:
    return automl.load_model(refitted("mlp").model_dir)


def load(model: Model, path: Path, method: str | None) -> torch.nn.Module:
    card = {**model.card, "compression": {"method": method} if method else None}
    return load_module(model.fitted.config, model.fitted.problem, card, path, "cpu").module


def features(model: Model) -> torch.Tensor:
    return torch.randn(40, *model.fitted.problem.input_shape, generator=torch.Generator().manual_seed(2))


def test_quantized_weights_round_trip_exactly(mlp: Model, tmp_path: Path) -> None:
    """Saved with safetensors and loaded back, the quantized module gives exactly the same outputs."""
    quantized = compress_module(mlp.fitted.trained.module, "dynamic-int8")  # type: ignore[union-attr]
    path = tmp_path / "weights.safetensors"
    save_file(module_tensors(quantized), path)
    loaded = load(mlp, path, "dynamic-int8")
    assert any(isinstance(layer, QuantizedLinear) for layer in loaded.modules())
    X = features(mlp)
    with torch.no_grad():
        assert torch.equal(loaded(X), quantized(X))


def test_pruned_weights_round_trip_with_their_zeros(mlp: Model, tmp_path: Path) -> None:
    pruned = compress_module(mlp.fitted.trained.module, "prune:0.5")  # type: ignore[union-attr]
    path = tmp_path / "weights.safetensors"
    save_file(module_tensors(pruned), path)
    loaded = load(mlp, path, "prune:0.5")
    assert same_state(loaded, pruned.state_dict())
    X = features(mlp)
    with torch.no_grad():
        assert torch.equal(loaded(X), pruned(X))


def test_load_refuses_a_file_that_is_not_safetensors(mlp: Model, tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"not tensors at all")
    with pytest.raises(ConfigError, match="not a readable safetensors file"):
        load(mlp, path, None)


def test_load_refuses_quantized_weights_with_a_layer_missing(mlp: Model, tmp_path: Path) -> None:
    tensors = module_tensors(compress_module(mlp.fitted.trained.module, "dynamic-int8"))  # type: ignore[union-attr]
    first = next(key for key in tensors if key.endswith(".weight.int8"))
    del tensors[first]
    path = tmp_path / "weights.safetensors"
    save_file(tensors, path)
    with pytest.raises(ConfigError, match="no quantized weights"):
        load(mlp, path, "dynamic-int8")


def test_load_refuses_weights_that_do_not_fit_the_card(mlp: Model, tmp_path: Path) -> None:
    """Plain float weights under a dynamic-int8 card, and quantized ones under a plain card."""
    plain = tmp_path / "plain.safetensors"
    save_file(module_tensors(mlp.fitted.trained.module), plain)  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="no quantized weights"):
        load(mlp, plain, "dynamic-int8")
    quantized = tmp_path / "quantized.safetensors"
    save_file(module_tensors(compress_module(mlp.fitted.trained.module, "dynamic-int8")),  # type: ignore[union-attr]
              quantized)
    with pytest.raises(ConfigError, match="do not fit"):
        load(mlp, quantized, None)
