"""The plugin protocol: what a model, optimizer or regularizer plugin declares, and when the engine calls it.

A plugin is a subclass of :class:`ModelPlugin`, :class:`OptimizerPlugin` or :class:`RegularizerPlugin` (the entry
point names the class, instantiated with no arguments, or an instance), published under one of the entry-point
groups :data:`GROUPS`. The base classes supply the optional hooks' defaults; the registry checks the rest of the
shape (see :mod:`automl.registry`).

Life of one trial, as the engine drives it::

    model plugin   .search_space(space)            # once per trial: suggest the model's parameters
    optimizer      .search_space(space)            # torch models only (unless the model owns_optimizer)
    regularizer    .search_space(space)            # torch models only: each regularizer switched on
    for each CV fold:
        model      .featurizer(params)             # an unfitted sklearn transformer, fitted on the training fold
        model      .build(params, problem)         # an unfitted estimator (sklearn) or nn.Module (torch)
        torch only:
            regularizer.configure_module(params, module)
            regularizer.loss_options(params)                            # e.g. label smoothing
            optimizer  .build(params, module.parameters(), overrides)   # overrides from the regularizers
            model      .lr_scale(params)                                # every group's lr times this factor
            optimizer  .scheduler(params, optimizer, total_steps)       # (or model.build_optimizer(...))
            regularizer.early_stopping(params)
            each training batch:
                X, Y = regularizer.transform_batch(params, X, Y, generator)   # mixup, augmentation
                loss += regularizer.loss_penalty(params, module)
                loss.backward(); regularizer.after_backward(params, module)  # e.g. gradient clipping
                optimizer.step(); scheduler.step()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

if TYPE_CHECKING:
    import torch

__all__ = [
    "API_VERSION",
    "FAMILIES",
    "GROUPS",
    "KINDS",
    "REGRESSION_TASKS",
    "REGULARIZED_FAMILIES",
    "TASKS",
    "EarlyStopping",
    "ModelPlugin",
    "OptimizerPlugin",
    "ParamSpace",
    "Problem",
    "RegularizerPlugin",
    "TrainSettings",
]

#: Version of this protocol. A plugin declares the version it targets in ``api_version``.
API_VERSION = 1

#: Entry-point group of each plugin kind.
GROUPS: Mapping[str, str] = {
    "model": "automl.models",
    "optimizer": "automl.optimizers",
    "regularizer": "automl.regularizers",
}

TASKS = ("nlp", "vision", "tabular")
KINDS = ("classification", "regression")
#: Tasks whose data can be regression; nlp and vision data are always classification.
REGRESSION_TASKS = ("tabular",)
FAMILIES = ("sklearn", "torch")
#: Model families whose training the engine applies regularizer hooks to (sklearn models regularize through
#: their own searched parameters).
REGULARIZED_FAMILIES = ("torch",)

Kind = Literal["classification", "regression"]
Family = Literal["sklearn", "torch"]


class ParamSpace(Protocol):
    """The namespaced view of an Optuna trial that a plugin's ``search_space`` receives.

    It offers Optuna's ``suggest_*`` calls with their usual arguments. Names are local to the plugin: the
    engine stores ``suggest_int("filters", ...)`` of model ``textcnn`` as ``model.textcnn.filters``.
    """

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


@dataclass(frozen=True)
class Problem:
    """What a model needs to know to build itself for one CV fold.

    Attributes:
        task: ``"nlp"``, ``"vision"`` or ``"tabular"``.
        kind: ``"classification"`` or ``"regression"``.
        n_outputs: number of classes, or 1 for regression.
        input_shape: shape of one featurized sample (after ``featurizer`` ran on the training fold).
        featurizer: the featurizer fitted on this fold's training rows, or ``None``.
        seed: seed of this trial and fold.
        n_rows: training rows the model is fitted on (after any ``max_train_rows`` subsample), e.g. to cap what
            each tree of a forest sees on big data; ``None`` where nothing is fitted (a saved model rebuilt to
            load its weights).
    """

    task: str
    kind: Kind
    n_outputs: int
    input_shape: tuple[int, ...]
    featurizer: Any
    seed: int
    n_rows: int | None = None


@dataclass(frozen=True)
class TrainSettings:
    """Training-loop settings of a torch model: the model plugin owns them because they depend on it.

    ``epochs`` and ``batch_size`` are meant for a small table; the engine fits them to the training fold's rows
    (:func:`automl.training.budgeted`): a fold of more than ``epoch_rows`` rows trains for proportionally fewer
    epochs (at least one), and the batch size is multiplied by the smallest whole factor that keeps a fold's
    optimizer steps within ``max_steps``. ``None`` switches either rule off.
    """

    epochs: int = 10
    batch_size: int = 64
    #: The rows ``epochs`` are meant for: above them, epochs shrink in proportion (a step budget in rows seen).
    epoch_rows: int | None = 20_000
    #: The most optimizer steps of one fold's training: beyond them, larger batches (tiny data: few, large ones).
    max_steps: int | None = 1_000


@dataclass(frozen=True)
class EarlyStopping:
    """Training-loop policy: stop when the inner-validation loss has not improved for ``patience`` epochs.

    ``validation_fraction`` of the training fold is held out (never the CV validation fold) and the best
    epoch's weights are restored.
    """

    patience: int
    validation_fraction: float = 0.1


class ModelPlugin:
    """Base class of model plugins (entry-point group ``automl.models``).

    Class attributes to set: ``name`` (equal to the entry-point name), ``api_version`` (the protocol version
    the plugin was written for: :data:`API_VERSION`), ``tasks``, ``family``, and ``kinds`` (the problem kinds it
    can fit; ``regression`` only with a task of :data:`REGRESSION_TASKS`). Optional ones: ``probabilities``,
    ``heavy``, ``owns_optimizer``, ``max_train_rows``, ``max_search_rows`` and ``starting_points``.
    """

    name: ClassVar[str]
    api_version: ClassVar[int]
    tasks: ClassVar[frozenset[str]]
    family: ClassVar[Family]
    kinds: ClassVar[frozenset[str]] = frozenset({"classification"})
    #: Whether its classifiers predict class probabilities (sklearn: have ``predict_proba``). A model that does
    #: not is left out of searches scored by a probability metric (``roc_auc``, ``log_loss``).
    probabilities: ClassVar[bool] = True
    #: A heavy model (sequence networks, pretrained transformers: minutes per trial on a CPU) joins a search
    #: that names no models only when its trials run on a CUDA device; on a CPU, name it (``models=[...]``).
    heavy: ClassVar[bool] = False
    #: Torch models that tune their own optimizer (e.g. fine-tuning, with its own learning-rate range and
    #: warm-up) set this and implement :meth:`build_optimizer`; no optimizer plugin is composed for them.
    owns_optimizer: ClassVar[bool] = False
    #: Models whose cost grows faster than the rows (k-NN, kernel SVMs): the most training rows one fit uses. Above
    #: it, every fit (each CV fold, and a refit) trains the model on a stratified subsample of that many training
    #: rows, the same for every trial (:mod:`automl.subsample`); the featurizer is still fitted on all of them, and
    #: validation rows are never subsampled. Read at each fit. ``None`` (the default): all rows.
    max_train_rows: ClassVar[int | None] = None
    #: Rows of a dataset above which a search that does not name the model (``models=[...]``) leaves it out, with
    #: a one-line :class:`~automl.exceptions.PluginWarning`. Read once, when a search chooses its candidate
    #: models. ``None`` (the default): no limit.
    max_search_rows: ClassVar[int | None] = None
    #: Known-good, cheap configurations of this model (like FLAML's low-cost initial points): each one a complete
    #: set of the parameters :meth:`search_space` suggests, by local name, with JSON values (numbers, strings,
    #: booleans). A search creating its study queues them as its first trials, in candidate-model order, before the
    #: sampler proposes anything; a resumed study is not given them again. Optimizer and regularizer choices of a
    #: torch model are left to the sampler. The registry checks their form, a search's pre-flight that each is a
    #: draw of the space (:func:`automl.space.check_starting_points`). Default: none.
    starting_points: ClassVar[tuple[Mapping[str, Any], ...]] = ()

    def search_space(self, space: ParamSpace) -> None:
        """Suggest this model's parameters. Called once per trial, only when this model is chosen."""
        raise NotImplementedError

    def featurizer(self, params: Mapping[str, Any]) -> Any:
        """Return an unfitted sklearn transformer, or ``None`` to feed the data as it is.

        Called once per fold. The engine fits a ``sklearn.base.clone`` of it on the training fold only and
        transforms both sides, so its ``get_params()`` must determine it completely.
        """
        return None

    def build(self, params: Mapping[str, Any], problem: Problem) -> Any:
        """Return an unfitted model: an sklearn estimator, or a ``torch.nn.Module`` emitting
        ``problem.n_outputs`` values per sample. Called once per fold, after the featurizer was fitted."""
        raise NotImplementedError

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        """Torch models: epochs and batch size of the training loop, and its step budget (the engine fits them
        to the fold's rows, see :class:`TrainSettings`). Called once per fold."""
        return TrainSettings()

    def lr_scale(self, params: Mapping[str, Any]) -> float:
        """Torch models composed with an optimizer plugin: the factor applied to that optimizer's learning rate
        for this model (default 1.0). The optimizer is built with its searched ``lr``, then every parameter
        group's ``lr`` is multiplied by this factor before the scheduler is made, so the searched parameters
        keep their names and distributions across models. Called once per fold; a positive finite number."""
        return 1.0

    def build_optimizer(
        self, params: Mapping[str, Any], module: torch.nn.Module, overrides: Mapping[str, Any], total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        """Models with ``owns_optimizer``: the optimizer of ``module`` and its schedule (stepped after every batch,
        ``total_steps`` in all). ``overrides`` are the regularizers' optimizer keywords (e.g. ``weight_decay``),
        to be honoured. Called once per fold, where an optimizer plugin's ``build`` would be."""
        raise NotImplementedError


class OptimizerPlugin:
    """Base class of optimizer plugins (``automl.optimizers``); offered with torch models only.

    Class attributes to set: ``name`` and ``api_version``.
    """

    name: ClassVar[str]
    api_version: ClassVar[int]

    def search_space(self, space: ParamSpace) -> None:
        """Suggest this optimizer's parameters. Called once per trial, only when this optimizer is chosen."""
        raise NotImplementedError

    def build(
        self,
        params: Mapping[str, Any],
        parameters: Iterable[torch.nn.Parameter],
        overrides: Mapping[str, Any],
    ) -> torch.optim.Optimizer:
        """Return the torch optimizer over ``parameters``. Called once per fold, once the module exists.

        ``overrides`` holds keyword arguments that regularizers ask for (such as ``weight_decay``).
        """
        raise NotImplementedError

    def scheduler(
        self, params: Mapping[str, Any], optimizer: torch.optim.Optimizer, total_steps: int
    ) -> torch.optim.lr_scheduler.LRScheduler | None:
        """Return a learning-rate schedule stepped after every batch, or ``None``. Called right after ``build``."""
        return None


class RegularizerPlugin:
    """Base class of regularizer plugins (``automl.regularizers``).

    The engine offers a regularizer for models of its ``families`` (a subset of :data:`REGULARIZED_FAMILIES`)
    on its ``tasks`` and problem ``kinds``, and searches whether it is on. Override the hooks that make up its
    effect; the others are no-ops.
    Class attributes to set: ``name`` and ``api_version``.
    """

    name: ClassVar[str]
    api_version: ClassVar[int]
    families: ClassVar[frozenset[str]] = frozenset({"torch"})
    #: Tasks it applies to (``None``: every task); e.g. image augmentation sets ``frozenset({"vision"})``.
    tasks: ClassVar[frozenset[str] | None] = None
    #: Problem kinds it applies to (``None``: both); e.g. label smoothing sets ``frozenset({"classification"})``.
    kinds: ClassVar[frozenset[str] | None] = None

    def search_space(self, space: ParamSpace) -> None:
        """Suggest this regularizer's parameters. Called once per trial, only when it is switched on."""
        raise NotImplementedError

    def optimizer_overrides(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Keyword arguments for the optimizer (e.g. ``weight_decay``). Called before the optimizer is built."""
        return {}

    def configure_module(self, params: Mapping[str, Any], module: torch.nn.Module) -> None:
        """Change the freshly built module in place (e.g. dropout rates). Called once per fold."""

    def loss_options(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Keyword arguments of the classification loss, ``torch.nn.CrossEntropyLoss`` (e.g.
        ``label_smoothing``). Called once per fold; ignored for regression."""
        return {}

    def transform_batch(
        self, params: Mapping[str, Any], X: torch.Tensor, Y: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Change one training batch (mixup, image augmentation) and return it. ``Y`` holds class-probability
        rows (classification) or standardized values (regression). Called for every training batch, never for
        validation rows; draw randomness from ``generator`` so trials stay reproducible."""
        return X, Y

    def loss_penalty(self, params: Mapping[str, Any], module: torch.nn.Module) -> torch.Tensor | None:
        """A term added to every batch's loss, or ``None``. Called at each training step."""
        return None

    def after_backward(self, params: Mapping[str, Any], module: torch.nn.Module) -> None:
        """Act on the gradients before the optimizer steps (e.g. clip them). Called at each training step."""

    def early_stopping(self, params: Mapping[str, Any]) -> EarlyStopping | None:
        """A stopping policy for the training loop, or ``None``. Called once per fold."""
        return None
