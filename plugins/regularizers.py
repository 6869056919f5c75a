"""Regularizers of torch models.

- optimizer: ``weight_decay``;
- module: ``dropout``;
- loss: ``l1`` (penalty on the weights), ``label_smoothing`` (softened classification targets);
- gradients: ``gradient_clipping``;
- training batches: ``mixup`` (vision, tabular), ``augmentation`` (vision: shifts and flips);
- training loop: ``early_stopping``.

Each one changes training whenever it is switched on; where it cannot (a model without dropout layers, a batch
it cannot transform) it fails the trial rather than silently do nothing. Batch transforms draw every random
number from the training loop's seeded generator, so a trial reproduces exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ParamSpace, RegularizerPlugin
from automl.protocols import EarlyStopping as StopPolicy

if TYPE_CHECKING:  # torch and scipy are imported by the hooks: listing the plugins does not load them
    import torch
    from torch import nn

__all__ = [
    "Augmentation",
    "Dropout",
    "EarlyStopping",
    "GradientClipping",
    "L1",
    "LabelSmoothing",
    "Mixup",
    "WeightDecay",
    "draw_mixup",
    "draw_shifts",
    "l1_weights",
    "norm_layers",
    "shift_images",
]


class WeightDecay(RegularizerPlugin):
    """L2 weight decay passed to the optimizer. Space: ``weight_decay`` 1e-6..1e-1 log."""

    name = "weight_decay"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("weight_decay", 1e-6, 1e-1, log=True)

    def optimizer_overrides(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"weight_decay": params["weight_decay"]}


class Dropout(RegularizerPlugin):
    """Sets the rate of every ``nn.Dropout`` layer of the model (the built-in torch models place them at
    0.0). Space: ``rate`` 0.05..0.5. A model without dropout layers fails the trial rather than ignore it."""

    name = "dropout"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("rate", 0.05, 0.5)

    def configure_module(self, params: Mapping[str, Any], module: nn.Module) -> None:
        from torch import nn

        layers = [m for m in module.modules() if isinstance(m, nn.Dropout)]
        if not layers:
            raise ValueError(f"dropout regularizer: {type(module).__name__} has no nn.Dropout layer to set")
        for layer in layers:
            layer.p = params["rate"]


class EarlyStopping(RegularizerPlugin):
    """Stops training when the loss on 10% of the training fold has not improved for ``patience`` epochs,
    and restores the best epoch's weights. Space: ``patience`` 1..5."""

    name = "early_stopping"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("patience", 1, 5)

    def early_stopping(self, params: Mapping[str, Any]) -> StopPolicy:
        return StopPolicy(patience=params["patience"], validation_fraction=0.1)


def norm_layers() -> tuple[type[nn.Module], ...]:
    """Normalization layers, whose scale parameters L1 leaves alone (shrinking them rescales activations, not
    connections)."""
    from torch import nn

    return nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm, nn.RMSNorm


def l1_weights(module: nn.Module) -> list[nn.Parameter]:
    """The parameters the L1 penalty covers: weight matrices and kernels (two or more dimensions: linear,
    convolution, embedding weights), not biases and not normalization layers' parameters."""
    norms = norm_layers()
    return [p for m in module.modules() if not isinstance(m, norms)
            for p in m.parameters(recurse=False) if p.requires_grad and p.dim() >= 2]


class L1(RegularizerPlugin):
    """Adds ``strength * sum(|w|)`` over the weight matrices and kernels to every batch's loss (biases and
    normalization layers are left out; see :func:`l1_weights`), pushing unneeded connections to zero. The sum is
    not averaged, so the strength is small: ``strength`` 1e-6..1e-3 log (at 1e-3 a 256-unit MLP already pays a
    penalty of the order of its loss). A model without such weights fails the trial."""

    name = "l1"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("strength", 1e-6, 1e-3, log=True)

    def loss_penalty(self, params: Mapping[str, Any], module: nn.Module) -> torch.Tensor:
        weights = l1_weights(module)
        if not weights:
            raise ValueError(f"l1 regularizer: {type(module).__name__} has no weight matrix or kernel to penalize")
        import torch

        return params["strength"] * torch.stack([w.abs().sum() for w in weights]).sum()


class LabelSmoothing(RegularizerPlugin):
    """Label smoothing of the classification loss: ``torch.nn.CrossEntropyLoss(label_smoothing=x)`` mixes each
    target with the uniform distribution, so the model stops pushing logits apart once it is confident.
    Space: ``label_smoothing`` 0.01..0.2 (beyond 0.2 it blurs two-class targets too much).

    Scope: it only acts on the classification loss (the training loop ignores ``loss_options`` for
    regression), so it declares ``kinds = {"classification"}``: offered on every task's classification
    problems, never on a regression where it would do nothing.
    """

    name = "label_smoothing"
    api_version = API_VERSION
    kinds = frozenset({"classification"})

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("label_smoothing", 0.01, 0.2)

    def loss_options(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"label_smoothing": params["label_smoothing"]}


class GradientClipping(RegularizerPlugin):
    """Rescales the gradients after each backward pass so their global L2 norm is at most ``max_norm``
    (``torch.nn.utils.clip_grad_norm_``), which stops single bad batches from throwing the weights far.
    Space: ``max_norm`` 0.1..2 log: small networks on standardized data start with gradient norms around one, so
    a larger bound would rarely clip."""

    name = "gradient_clipping"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("max_norm", 0.1, 2.0, log=True)

    def after_backward(self, params: Mapping[str, Any], module: nn.Module) -> None:
        from torch import nn

        nn.utils.clip_grad_norm_(module.parameters(), params["max_norm"])


def _uniform(generator: torch.Generator) -> float:
    import torch

    return float(torch.rand((), generator=generator, device=generator.device))


def draw_mixup(alpha: float, n: int, generator: torch.Generator) -> tuple[float, torch.Tensor]:
    """Draw one mixup batch's ``(lam, perm)``: ``lam ~ Beta(alpha, alpha)`` by inverting the Beta distribution
    function at a uniform number from ``generator``, and a permutation of ``range(n)`` (on the generator's
    device) pairing each row with another. The same generator state gives the same draw."""
    import scipy.special
    import torch

    lam = float(scipy.special.betaincinv(alpha, alpha, _uniform(generator)))
    perm = torch.randperm(n, generator=generator, device=generator.device)
    return lam, perm


class Mixup(RegularizerPlugin):
    """Mixup: trains on convex combinations of pairs of rows and of their targets,
    ``X = lam * X + (1 - lam) * X[perm]`` and the same for ``Y`` (class-probability rows, which still sum to 1,
    or standardized regression values), with ``lam ~ Beta(alpha, alpha)`` and ``perm`` drawn per batch by
    :func:`draw_mixup`. Space: ``alpha`` 0.1..1 log (small alpha keeps most mixes close to one of the rows; 1
    mixes uniformly). Offered on ``vision`` and ``tabular`` (continuous inputs); a batch of integer inputs (token
    ids, category codes) cannot be mixed and fails the trial."""

    name = "mixup"
    api_version = API_VERSION
    tasks = frozenset({"vision", "tabular"})

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("alpha", 0.1, 1.0, log=True)

    def transform_batch(self, params: Mapping[str, Any], X: torch.Tensor, Y: torch.Tensor,
                        generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if not (X.is_floating_point() and Y.is_floating_point()):
            raise TypeError(f"mixup regularizer: cannot mix {X.dtype} inputs / {Y.dtype} targets; "
                            "it needs floating-point ones")
        lam, perm = draw_mixup(params["alpha"], len(X), generator)
        perm = perm.to(X.device)
        return lam * X + (1.0 - lam) * X[perm], lam * Y + (1.0 - lam) * Y[perm]


def draw_shifts(n: int, max_shift: int, flip: bool, generator: torch.Generator,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw one augmentation batch's per-image ``(dy, dx, flipped)``: integer shifts uniform in
    ``-max_shift..max_shift`` and, when ``flip``, a fair coin per image (else all ``False``), on the generator's
    device."""
    import torch

    device = generator.device
    shifts = torch.randint(-max_shift, max_shift + 1, (2, n), generator=generator, device=device)
    flipped = (torch.rand(n, generator=generator, device=device) < 0.5) if flip else torch.zeros(
        n, dtype=torch.bool, device=device)
    return shifts[0], shifts[1], flipped


def shift_images(X: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Move image ``i`` of ``X`` ``(n, C, H, W)`` down by ``dy[i]`` and right by ``dx[i]`` pixels, filling the
    uncovered border with zeros (pixel ``(h, w)`` of the result is pixel ``(h - dy, w - dx)`` of the input)."""
    import torch
    from torch import nn

    n, _, height, width = X.shape
    pad = int(max(dy.abs().max(), dx.abs().max())) if n else 0
    padded = nn.functional.pad(X, (pad, pad, pad, pad))
    rows = torch.arange(height, device=X.device)[None, :] - dy.to(X.device)[:, None] + pad  # (n, H)
    cols = torch.arange(width, device=X.device)[None, :] - dx.to(X.device)[:, None] + pad  # (n, W)
    index = torch.arange(n, device=X.device)[:, None, None, None]
    channels = torch.arange(X.shape[1], device=X.device)[None, :, None, None]
    return padded[index, channels, rows[:, None, :, None], cols[:, None, None, :]]


class Augmentation(RegularizerPlugin):
    """Image augmentation of every training batch: each image moves by a random shift of up to ``max_shift``
    pixels in each direction (zero fill, shape kept) and, when ``flip`` is chosen, is mirrored left-right with
    probability 1/2. Space: ``max_shift`` 1..3 pixels (about 10% of a 28-pixel digit; larger shifts push content
    off small images), ``flip`` True/False (mirroring is right for natural images and wrong for digits and text,
    so the search decides). Expects float ``(n, C, H, W)`` batches; anything else fails the trial."""

    name = "augmentation"
    api_version = API_VERSION
    tasks = frozenset({"vision"})

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("max_shift", 1, 3)
        space.suggest_categorical("flip", [False, True])

    def transform_batch(self, params: Mapping[str, Any], X: torch.Tensor, Y: torch.Tensor,
                        generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if X.dim() != 4 or not X.is_floating_point():
            raise TypeError(f"augmentation regularizer: expects float image batches (n, C, H, W), "
                            f"got {X.dtype} {tuple(X.shape)}")
        # never shift a whole image out of view
        max_shift = min(params["max_shift"], X.shape[2] - 1, X.shape[3] - 1)
        dy, dx, flipped = draw_shifts(len(X), max_shift, params["flip"], generator)
        X = shift_images(X, dy, dx)
        if params["flip"]:
            import torch

            X = torch.where(flipped.to(X.device)[:, None, None, None], X.flip(-1), X)
        return X, Y
