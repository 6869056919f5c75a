"""Reading user data files: tables (CSV, Parquet, JSONL) and images (a folder of class folders, or an .npz).

Every failure is a :class:`~automl.exceptions.DataError` that names the file and what is wrong with it.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from automl.exceptions import DataError

__all__ = ["IMAGE_SUFFIXES", "TABLE_SUFFIXES", "read_images", "read_table"]

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV/TSV, Parquet or JSON-lines file into a DataFrame."""
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'!r}; "
                        f"expected one of {', '.join(TABLE_SUFFIXES)}")
    try:
        if suffix in (".csv", ".tsv"):
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", encoding="utf-8")
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=True, encoding="utf-8")
    except ImportError as exc:
        raise DataError(f"{path}: reading {suffix} needs an extra package ({exc}); "
                        "try `pip install 'automl[parquet]'`") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 text (byte {exc.start}): re-encode the file as UTF-8") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: the file is empty") from exc
    except (OSError, ValueError, TypeError, pd.errors.ParserError) as exc:  # TypeError: a JSON line not an object
        raise DataError(f"{path}: cannot be read as {suffix}: {exc}") from exc
    if frame.empty:
        raise DataError(f"{path}: the file has no rows")
    for column in [name for name, dtype in frame.dtypes.items() if pd.api.types.is_object_dtype(dtype)]:
        nested = ~frame[column].map(pd.api.types.is_scalar)
        if nested.any():
            raise DataError(f"{path}: column {str(column)!r} holds a list or object (first at row "
                            f"{int(nested.to_numpy().argmax())}); only flat tables of numbers and text can be read")
    return frame


def _to_nchw(X: np.ndarray, where: str) -> np.ndarray:
    """``(n, H, W)``, ``(n, H, W, C)`` or ``(n, C, H, W)`` as float32 ``(n, C, H, W)`` in [0, 1].

    A 4-d array is read as channels-last when its last axis has 1, 3 or 4 entries and its second does not;
    ambiguous shapes (such as ``(n, 3, 3, 3)``) are taken as channels-first.
    """
    if X.ndim == 3:
        X = X[:, None, :, :]
    elif X.ndim == 4 and X.shape[-1] in (1, 3, 4) and X.shape[1] not in (1, 3, 4):
        X = X.transpose(0, 3, 1, 2)
    elif X.ndim != 4:
        raise DataError(f"{where}: images must be an array of shape (n, H, W), (n, H, W, C) or (n, C, H, W); "
                        f"got {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(f"{where}: image array must be numeric, got dtype {X.dtype}")
    X = X.astype(np.float32)
    if not np.isfinite(X).all():
        raise DataError(f"{where}: image array contains NaN or infinite values")
    peak = float(X.max(initial=0.0))
    return X / 255.0 if peak > 1.0 else X


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"X", "y"} - set(archive.files)
            if missing:
                raise DataError(f"{path}: the .npz needs arrays 'X' and 'y'; missing {', '.join(sorted(missing))}")
            X, y = archive["X"], archive["y"]
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{path}: cannot be read as .npz: {exc or type(exc).__name__}") from exc
    if X.ndim == 0 or y.ndim != 1:
        raise DataError(f"{path}: y must be a 1-d array of labels and X an array of images; "
                        f"got X of shape {X.shape} and y of shape {y.shape}")
    if len(X) == 0:
        raise DataError(f"{path}: the .npz holds no images")
    if len(X) != len(y):
        raise DataError(f"{path}: X has {len(X)} images but y has {len(y)} labels")
    return _to_nchw(X, str(path)), y


def _read_folder(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    class_dirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{path}: an image folder needs one sub-folder per class")
    images, labels = [], []
    mode, size = None, None
    for class_dir in class_dirs:
        for file in sorted(class_dir.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(file) as img:
                    mode = mode or ("L" if img.mode in ("1", "L", "I", "F") else "RGB")
                    size = size or img.size
                    if img.size != size:
                        raise DataError(f"{file}: image is {img.size[1]}x{img.size[0]} (HxW), the first image is "
                                        f"{size[1]}x{size[0]}; all images must have one size")
                    images.append(np.asarray(img.convert(mode)))
            except DataError:
                raise
            except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                raise DataError(f"{file}: not a readable image: {exc}") from exc
            labels.append(class_dir.name)
    if not images:
        raise DataError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) found in its class folders")
    return _to_nchw(np.stack(images), str(path)), np.asarray(labels)


def read_images(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read images as float32 ``(n, C, H, W)`` in [0, 1] and their labels, from a class-folder tree or an .npz."""
    if path.is_dir():
        return _read_folder(path)
    if path.suffix.lower() == ".npz":
        return _read_npz(path)
    raise DataError(f"{path}: vision data must be a folder of class sub-folders or an .npz file with X and y")
