"""Reading user files: tables (CSV/TSV/JSONL/Parquet) and images (class folders or an .npz)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from automl.exceptions import DataError
from automl.readers import TABLE_SUFFIXES, read_images, read_table

FRAME = pd.DataFrame({
    "n": [1, 2, 3],
    "x": [0.5, -1.25, 3.0],
    "text": ["a, b", "plain", "café ünïcode"],  # a comma, to prove TSV is not split on commas
})


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        frame.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    return path


# -- tables ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.jsonl", "t.ndjson", "t.parquet", "t.pq", "T.CSV"])
def test_read_table_round_trips(tmp_path: Path, name: str) -> None:
    frame = read_table(write_table(FRAME, tmp_path / name))
    assert list(frame.columns) == list(FRAME.columns)
    assert frame.to_dict("list") == FRAME.to_dict("list")


@pytest.mark.parametrize("name", ["t.xlsx", "t.txt", "t.json", "noext"])
def test_unsupported_suffix(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="unsupported file type") as info:
        read_table(path)
    assert str(path) in str(info.value)
    assert all(suffix in str(info.value) for suffix in TABLE_SUFFIXES)


@pytest.mark.parametrize("name", ["e.csv", "e.tsv", "e.jsonl", "e.parquet"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_header_only_csv_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b\n")
    with pytest.raises(DataError, match="no rows") as info:
        read_table(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name, content", [
    ("l.csv", b"text,label\ncaf\xe9,a\n"),
    ("l.tsv", b"text\tlabel\ncaf\xe9\ta\n"),
    ("l.jsonl", b'{"text": "caf\xe9", "label": "a"}\n'),
])
def test_non_utf8_bytes(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match="UTF-8") as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    path.write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(path) in str(info.value)


# -- images: a folder of class folders -------------------------------------------------------------------


def save_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def rgb_folder(tmp_path: Path) -> tuple[Path, dict[str, list[np.ndarray]]]:
    """Two classes of 5x6 RGB PNGs (two 'cat', three 'dog') and the pixels written, by class."""
    rng = np.random.default_rng(0)
    written: dict[str, list[np.ndarray]] = {}
    for label, count in (("cat", 2), ("dog", 3)):
        for i in range(count):
            pixels = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
            save_png(tmp_path / "imgs" / label / f"{i}.png", pixels)
            written.setdefault(label, []).append(pixels)
    return tmp_path / "imgs", written


def test_folder_of_rgb_pngs(rgb_folder: tuple[Path, dict[str, list[np.ndarray]]]) -> None:
    folder, written = rgb_folder
    X, y = read_images(folder)
    n = sum(len(v) for v in written.values())
    assert X.shape == (n, 3, 5, 6)
    assert X.dtype == np.float32
    assert list(y) == [label for label in sorted(written) for _ in written[label]]
    expected = np.stack([p for label in sorted(written) for p in written[label]]).transpose(0, 3, 1, 2) / 255.0
    np.testing.assert_allclose(X, expected, atol=1e-6)
    assert X.min() >= 0.0 and X.max() <= 1.0


def test_folder_of_grayscale_pngs(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pixels = [rng.integers(0, 256, (4, 7), dtype=np.uint8) for _ in range(2)]
    for i, p in enumerate(pixels):
        save_png(tmp_path / ("a" if i == 0 else "b") / "img.png", p)
    X, y = read_images(tmp_path)
    assert X.shape == (2, 1, 4, 7)
    assert list(y) == ["a", "b"]
    np.testing.assert_allclose(X[:, 0], np.stack(pixels) / 255.0, atol=1e-6)


def test_folder_ignores_non_images_and_hidden_folders(rgb_folder: tuple[Path, dict[str, list[np.ndarray]]]) -> None:
    folder, written = rgb_folder
    (folder / "cat" / "notes.txt").write_text("not an image")
    save_png(folder / ".cache" / "x.png", np.zeros((5, 6, 3), np.uint8))
    X, y = read_images(folder)
    assert len(X) == sum(len(v) for v in written.values())
    assert set(y) == set(written)


def test_folder_with_differing_image_sizes(rgb_folder: tuple[Path, dict[str, list[np.ndarray]]]) -> None:
    folder, _ = rgb_folder
    odd = folder / "dog" / "9_odd.png"
    save_png(odd, np.zeros((7, 6, 3), np.uint8))
    with pytest.raises(DataError, match="size") as info:
        read_images(folder)
    assert str(odd) in str(info.value)


@pytest.mark.parametrize("corrupt", ["garbage", "truncated"])
def test_folder_with_unreadable_png(rgb_folder: tuple[Path, dict[str, list[np.ndarray]]], corrupt: str) -> None:
    folder, _ = rgb_folder
    bad = folder / "dog" / "9_bad.png"
    good = (folder / "dog" / "0.png").read_bytes()
    bad.write_bytes(b"not a png" if corrupt == "garbage" else good[: len(good) // 2])
    with pytest.raises(DataError, match="not a readable image") as info:
        read_images(folder)
    assert str(bad) in str(info.value)


def test_folder_without_class_folders(tmp_path: Path) -> None:
    save_png(tmp_path / "loose.png", np.zeros((3, 3), np.uint8))
    with pytest.raises(DataError, match="sub-folder per class"):
        read_images(tmp_path)


def test_folder_with_class_folders_but_no_images(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no images"):
        read_images(tmp_path)


def test_vision_path_that_is_neither_folder_nor_npz(tmp_path: Path) -> None:
    path = tmp_path / "images.csv"
    path.write_text("a\n1\n")
    with pytest.raises(DataError) as info:
        read_images(path)
    assert str(path) in str(info.value)


# -- images: .npz ------------------------------------------------------------------------------------------


def test_npz_grayscale_uint8(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    X_in = rng.integers(0, 256, (4, 5, 6), dtype=np.uint8)
    X_in[0, 0, 0] = 255  # guarantees values above 1, i.e. the 0..255 scale
    y_in = np.array([0, 1, 0, 1])
    np.savez(tmp_path / "d.npz", X=X_in, y=y_in)
    X, y = read_images(tmp_path / "d.npz")
    assert X.shape == (4, 1, 5, 6) and X.dtype == np.float32
    np.testing.assert_allclose(X[:, 0], X_in / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y, y_in)


def test_npz_channels_last_rgb(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    X_in = rng.integers(0, 256, (3, 5, 6, 3), dtype=np.uint8)
    X_in[0, 0, 0, 0] = 255
    y_in = np.array(["a", "b", "a"])
    np.savez(tmp_path / "d.npz", X=X_in, y=y_in)
    X, y = read_images(tmp_path / "d.npz")
    assert X.shape == (3, 3, 5, 6)
    np.testing.assert_allclose(X, X_in.transpose(0, 3, 1, 2) / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y, y_in)


def test_npz_already_in_unit_range_is_not_rescaled(tmp_path: Path) -> None:
    X_in = np.linspace(0.0, 1.0, 2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    np.savez(tmp_path / "d.npz", X=X_in, y=np.array([0, 1]))
    X, _ = read_images(tmp_path / "d.npz")
    np.testing.assert_array_equal(X[:, 0], X_in)


@pytest.mark.parametrize("arrays, missing", [
    ({"X": np.zeros((2, 3, 3), np.uint8)}, "y"),
    ({"y": np.array([0, 1])}, "X"),
])
def test_npz_missing_array(tmp_path: Path, arrays: dict[str, np.ndarray], missing: str) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=f"missing {missing}") as info:
        read_images(path)
    assert str(path) in str(info.value)


def test_npz_length_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((3, 4, 4), np.uint8), y=np.array([0, 1]))
    with pytest.raises(DataError, match="3 images but y has 2") as info:
        read_images(path)
    assert str(path) in str(info.value)


def test_npz_with_wrong_image_rank(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((3, 4), np.uint8), y=np.array([0, 1, 2]))
    with pytest.raises(DataError, match="shape"):
        read_images(path)


def test_corrupt_npz(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(DataError) as info:
        read_images(path)
    assert str(path) in str(info.value)
