"""The data loaders of `nnc train`, `nnc eval` and `nnc lesion`, on small data sets the
tests write: scikit-learn's digits, .npz files, MNIST's IDX format (plain and gzipped),
directories of class folders; the held-out split; and the adaptation of images to a
network's input, checked pixel by pixel."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from nnc.errors import DataError
from nnc.experiments import data


def idx_bytes(array: np.ndarray) -> bytes:
    """MNIST's format (LeCun's page): two zero bytes, the type code 0x08 (unsigned
    byte), the number of dimensions, each dimension as a big-endian int32, the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx(directory, prefix, images, labels, compress=False):
    for kind, array, dims in (("images", images, "idx3"), ("labels", labels, "idx1")):
        name = directory / f"{prefix}-{kind}-{dims}-ubyte{'.gz' if compress else ''}"
        payload = idx_bytes(array)
        name.write_bytes(gzip.compress(payload) if compress else payload)
    return directory / f"{prefix}-images-idx3-ubyte{'.gz' if compress else ''}"


def tiny_images(n=40, size=6, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, size, size), dtype=np.uint8),
            np.arange(n) % classes)


def test_digits_are_split_by_class_and_adapted_to_the_input():
    d = data.load("digits", (16, 16, 1))
    # 1,797 images; a quarter of each class held out, halves rounded up: the classes
    # have 174-183 images, and 44 + 45 + ... gives 451.
    per_class = np.bincount(np.concatenate([d.y_train, d.y_test]))
    assert per_class.sum() == 1797 and per_class.min() == 174 and per_class.max() == 183
    assert np.bincount(d.y_test).tolist() == [int(n / 4 + 0.5) for n in per_class]
    assert (len(d.y_train), len(d.y_test)) == (1346, 451)
    assert d.x_train.shape == (1346, 16, 16, 1) and d.class_names == [str(i) for i in range(10)]
    assert 0.0 <= d.x_train.min() and d.x_train.max() == 1.0  # values 0-16 scaled by 1/16
    assert any("each pixel repeated 2×2" in n for n in d.notes)


def test_the_split_depends_on_the_seed_only():
    a, b, c = (data.load("digits", (8, 8, 1), seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)


def test_npz_with_x_and_y_is_split_and_scaled(tmp_path):
    images, labels = tiny_images()
    np.savez(tmp_path / "d.npz", x=images, y=labels)
    d = data.load(str(tmp_path / "d.npz"), (6, 6, 1))
    # 10 images per class; a quarter is 2.5, rounded up to 3 of each class held out.
    assert np.bincount(d.y_test).tolist() == [3, 3, 3, 3]
    assert (len(d.y_train), len(d.y_test)) == (28, 12)
    whole = np.concatenate([d.x_train, d.x_test])[..., 0]
    assert sorted(map(bytes, (whole * 255).round().astype(np.uint8))) == \
        sorted(map(bytes, images))  # every image once, pixels /255
    assert "pixels scaled from 0–255 to 0–1" in d.notes


def test_npz_in_the_layout_of_keras_mnist_keeps_its_own_test_set(tmp_path):
    images, labels = tiny_images()
    np.savez(tmp_path / "m.npz", x_train=images[:30], y_train=labels[:30],
             x_test=images[30:], y_test=labels[30:])
    d = data.load(str(tmp_path / "m.npz"), (6, 6, 1))
    np.testing.assert_array_equal(d.y_test, labels[30:])
    np.testing.assert_allclose(d.x_test[..., 0], images[30:] / 255, rtol=1e-6)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_idx_files_with_their_t10k_test_set(tmp_path, compress):
    images, labels = tiny_images(n=20)
    train = write_idx(tmp_path, "train", images[:12], labels[:12], compress)
    write_idx(tmp_path, "t10k", images[12:], labels[12:], compress)
    for spec in (str(train), str(tmp_path)):  # the file, or the directory holding it
        d = data.load(spec, (6, 6, 1))
        np.testing.assert_array_equal(d.y_train, labels[:12])
        np.testing.assert_array_equal(d.y_test, labels[12:])
        np.testing.assert_allclose(d.x_train[..., 0], images[:12] / 255, rtol=1e-6)


def test_idx_without_a_test_set_is_split(tmp_path):
    images, labels = tiny_images(n=16)
    train = write_idx(tmp_path, "train", images, labels)
    d = data.load(str(train), (6, 6, 1))
    assert (len(d.y_train), len(d.y_test)) == (12, 4)  # 4 per class, one of each out


def test_a_truncated_idx_file_and_missing_labels_are_data_errors(tmp_path):
    images, labels = tiny_images(n=4)
    train = write_idx(tmp_path, "train", images, labels)
    whole = train.read_bytes()
    train.write_bytes(whole[:-5])
    with pytest.raises(DataError, match="truncated"):
        data.load(str(train), (6, 6, 1))
    train.write_bytes(whole)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="found no labels"):
        data.load(str(train), (6, 6, 1))
    (tmp_path / "x-images-idx3-ubyte").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DataError, match="not an IDX file"):
        data.read_idx(str(tmp_path / "x-images-idx3-ubyte"))


def test_a_directory_of_class_folders_is_read_at_the_input_size(tmp_path):
    from PIL import Image
    for name, value in (("cat", 40), ("dog", 200)):
        (tmp_path / name).mkdir()
        for i in range(4):
            Image.new("L", (10, 10), value).save(tmp_path / name / f"{i}.png")
    d = data.load(str(tmp_path), (5, 5, 3))
    assert d.class_names == ["cat", "dog"]
    assert d.x_train.shape[1:] == (5, 5, 3) and len(d.y_train) + len(d.y_test) == 8
    x, y = d.split("all")
    # Flat grey images stay flat through resizing; grey read as RGB repeats the value.
    np.testing.assert_allclose(x[y == 0], 40 / 255, atol=1e-5)
    np.testing.assert_allclose(x[y == 1], 200 / 255, atol=1e-5)


def test_an_empty_directory_or_unknown_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read images"):
        data.load(str(tmp_path), (5, 5, 3))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="cannot tell what kind of data"):
        data.load(str(tmp_path / "notes.txt"), (5, 5, 3))
    with pytest.raises(DataError, match="no such file"):
        data.load(str(tmp_path / "missing.npz"), (5, 5, 3))


def test_labels_beyond_the_outputs_are_refused(tmp_path):
    d = data.load("digits", (8, 8, 1))
    with pytest.raises(DataError, match="labels up to 9, but the network has 5 outputs"):
        d.check_fits(5)


# --- adaptation -------------------------------------------------------------------------

def test_small_images_are_upsampled_by_a_whole_factor_and_centred():
    x = np.arange(4, dtype="float32").reshape(1, 2, 2, 1) + 1  # [[1, 2], [3, 4]]
    y, notes = data.adapt(x, (7, 7, 1))  # 3× fits (6×6), then one zero row and column
    expected = np.zeros((7, 7))
    expected[0:3, 0:3], expected[0:3, 3:6] = 1, 2
    expected[3:6, 0:3], expected[3:6, 3:6] = 3, 4
    np.testing.assert_array_equal(y[0, ..., 0], expected)
    assert notes == ["2×2 images made 7×7: each pixel repeated 3×3, zero-padded to 7×7"]


def test_mnist_sized_images_are_padded_to_lenets_32x32():
    x = np.ones((2, 28, 28), "float32")
    y, notes = data.adapt(x, (32, 32, 1))
    assert y.shape == (2, 32, 32, 1) and y.sum() == 2 * 28 * 28
    assert y[0, 2:30, 2:30].min() == 1 and y[0, :2].max() == 0  # 2 zero rows each side


def test_grey_becomes_rgb_and_rgb_becomes_grey():
    grey = np.random.default_rng(0).uniform(size=(3, 4, 4, 1)).astype("float32")
    rgb, notes = data.adapt(grey, (4, 4, 3))
    np.testing.assert_array_equal(rgb, np.repeat(grey, 3, axis=3))
    assert notes == ["grey copied to 3 channels"]
    back, _ = data.adapt(rgb, (4, 4, 1))  # luma weights sum to 1: grey comes back
    np.testing.assert_allclose(back, grey, rtol=1e-5)


def test_large_images_are_resized_down_and_vectors_flattened():
    x = np.full((2, 8, 8, 1), 0.5, "float32")
    y, notes = data.adapt(x, (4, 4, 1))
    assert y.shape == (2, 4, 4, 1) and np.allclose(y, 0.5)
    assert notes == ["resized from 8×8 to 4×4 (bilinear)"]
    flat, _ = data.adapt(x, (64,))
    assert flat.shape == (2, 64)
    with pytest.raises(DataError, match="vectors of 10 values"):
        data.adapt(x, (10,))
    with pytest.raises(DataError, match="4 channels"):
        data.adapt(np.zeros((1, 4, 4, 4), "float32"), (4, 4, 3))
