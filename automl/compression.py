"""Torch weights on disk, plain or compressed, and the compression methods (PyTorch's own utilities).

Methods (``automl compress MODEL_DIR --method M``):

* ``dynamic-int8``: :func:`torch.ao.quantization.quantize_dynamic` on the ``nn.Linear`` layers (int8 weights,
  activations quantized on the fly; CPU inference). On disk each quantized layer is its int8 weight with its scale
  and zero point, so the file shrinks about fourfold for those layers; convolutions stay float.
* ``prune:F`` (``0 < F < 1``): :func:`torch.nn.utils.prune.l1_unstructured` removes the fraction ``F`` of the
  smallest-magnitude weights of every ``nn.Linear`` and ``nn.Conv*`` layer, made permanent. The weights stay dense
  tensors: the file is as large as before and dense CPU kernels run as fast; the model is sparser, not smaller.

Weights are stored with safetensors (tensors only, nothing to execute); the module itself is always rebuilt by the
installed model plugin from the card's parameters.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from automl.exceptions import ConfigError
from automl.protocols import Problem
from automl.space import Config
from automl.training import Trained

__all__ = ["check_method", "compress_module", "load_module", "module_tensors"]

_PRUNED = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)


def check_method(method: str) -> str:
    """``method`` when it is ``dynamic-int8`` or ``prune:F`` with ``0 < F < 1``; a :class:`ConfigError` otherwise."""
    if method == "dynamic-int8":
        return method
    kind, _, amount = method.partition(":")
    try:
        fraction = float(amount)
    except ValueError:
        fraction = -1.0
    if kind != "prune" or not 0 < fraction < 1:
        raise ConfigError(f"unknown compression method {method!r}; use dynamic-int8 or prune:F with 0 < F < 1 "
                          "(e.g. prune:0.5)")
    return method


def _quantized_linear() -> type:
    from torch.ao.nn.quantized.dynamic import Linear

    return Linear


def _quantize(module: torch.nn.Module) -> torch.nn.Module:
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice (see README, known limits)
        return quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)


def compress_module(module: torch.nn.Module, method: str) -> torch.nn.Module:
    """A compressed copy of ``module`` (on the CPU, in eval mode); ``module`` itself is left as it is."""
    check_method(method)
    copied = copy.deepcopy(module).cpu().eval()
    if method == "dynamic-int8":
        return _quantize(copied)
    from torch.nn.utils import prune

    fraction = float(method.partition(":")[2])
    for layer in copied.modules():
        if isinstance(layer, _PRUNED):
            prune.l1_unstructured(layer, "weight", amount=fraction)
            prune.remove(layer, "weight")
    return copied


def module_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What ``weights.safetensors`` holds for ``module``: its state's tensors, and for each dynamically quantized
    layer ``<name>.weight.int8``, ``.weight.scale``, ``.weight.zero_point`` and ``<name>.bias``."""
    quantized = _quantized_linear()
    tensors: dict[str, torch.Tensor] = {}
    prefixes = []
    for name, layer in module.named_modules():
        if isinstance(layer, quantized):
            weight, bias = layer.weight(), layer.bias()
            tensors[f"{name}.weight.int8"] = weight.int_repr().contiguous()
            tensors[f"{name}.weight.scale"] = torch.tensor(weight.q_scale(), dtype=torch.float64)
            tensors[f"{name}.weight.zero_point"] = torch.tensor(weight.q_zero_point(), dtype=torch.int64)
            if bias is not None:
                tensors[f"{name}.bias"] = bias.detach().contiguous()
            prefixes.append(f"{name}.")
    for key, value in module.state_dict().items():
        if isinstance(value, torch.Tensor) and not any(key.startswith(prefix) for prefix in prefixes):
            tensors[key] = value.detach().cpu().contiguous()
    return tensors


def _quantized_weights(tensors: dict[str, torch.Tensor], name: str, path: Path
                       ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The quantized weight and the bias of layer ``name``, taken out of ``tensors``."""
    try:
        ints, scale = tensors.pop(f"{name}.weight.int8"), float(tensors.pop(f"{name}.weight.scale"))
        zero_point = int(tensors.pop(f"{name}.weight.zero_point"))
    except KeyError as exc:
        raise ConfigError(f"{path}: no quantized weights for layer {name!r}") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized-tensor creation's deprecation notice
        weight = torch.quantize_per_tensor((ints.float() - zero_point) * scale, scale, zero_point, torch.qint8)
    return weight, tensors.pop(f"{name}.bias", None)


def _state_tensor(module: torch.nn.Module, key: str) -> torch.Tensor:
    """The parameter or buffer of ``module`` named ``key`` (a state-dict key)."""
    try:
        return module.get_parameter(key)
    except AttributeError:
        return module.get_buffer(key)


def load_module(config: Config, problem: Problem, card: dict[str, Any], path: Path, device: str) -> Trained:
    """Rebuild the card's torch module with the installed plugin and load the weights at ``path`` into it (a
    quantized module runs on the CPU whatever ``device`` says)."""
    module = config.model.plugin.build(config.model_params, problem)
    for record, params in config.regularizers:
        record.plugin.configure_module(params, module)
    try:
        tensors = load_file(path)
    except Exception as exc:  # not a safetensors file (safetensors' own error types)
        raise ConfigError(f"{path}: not a readable safetensors file ({type(exc).__name__}: {exc}); refused") from exc
    quantized: list[str] = []  # prefixes of the quantized layers, whose weights are set here
    if (card.get("compression") or {}).get("method") == "dynamic-int8":
        module, device = _quantize(module.eval()), "cpu"
        for name, layer in module.named_modules():
            if isinstance(layer, _quantized_linear()):
                layer.set_weight_bias(*_quantized_weights(tensors, name, path))
                quantized.append(f"{name}.")
    expected = {k for k, v in module.state_dict().items()
                if isinstance(v, torch.Tensor) and not k.startswith(tuple(quantized))}
    if set(tensors) != expected:
        raise ConfigError(f"{path}: the weights do not fit the module the plugin builds (missing "
                          f"{sorted(expected - set(tensors))}, unexpected {sorted(set(tensors) - expected)})")
    try:
        if quantized:  # a quantized layer's own state loading expects its packed form: set the others one by one
            with torch.no_grad():
                for key, value in tensors.items():
                    _state_tensor(module, key).copy_(value)
        else:
            module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise ConfigError(f"{path}: the weights do not fit the module the plugin builds: "
                          f"{str(exc).splitlines()[0]}") from exc
    module.to(device).eval()
    torch_info = card.get("torch") or {}
    return Trained(module, card["kind"] == "classification", torch_info.get("y_mean", 0.0),
                   torch_info.get("y_std", 1.0))
