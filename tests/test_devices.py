from __future__ import annotations

import pytest
import torch

from automl.devices import resolve_device, validate_device
from automl.exceptions import ConfigError


@pytest.mark.parametrize("spec", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_valid_spellings(spec: str) -> None:
    assert validate_device(spec) == spec


@pytest.mark.parametrize("spec", ["gpu", "cuda:", "cuda:x", "CPU", "mps", ""])
def test_invalid_spellings(spec: str) -> None:
    with pytest.raises(ConfigError, match="unknown device"):
        validate_device(spec)


def test_auto_follows_availability() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_index_out_of_range() -> None:
    with pytest.raises(ConfigError, match="GPU\\(s\\) are visible"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")
