"""The data loaders of `nnc train`, `nnc eval` and `nnc lesion`, on small data sets the
tests write: scikit-learn's digits, .npz files, MNIST's IDX format (plain and gzipped),
directories of class folders; the held-out split; and the adaptation of images to a
network's input, checked pixel by pixel."""
from __future__ import annotations

import gzip
import hashlib
import io
import struct
from pathlib import Path

import numpy as np
import pytest

from nnc import cli
from nnc.errors import DataError
from nnc.experiments import data

FIXTURES = Path(__file__).parent / "fixtures"


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


# --- every mistake in the data is one DataError that names the file and the numbers ----

IMAGES, LABELS = tiny_images(n=40, size=6, classes=4)


def npz(**arrays):
    def make(directory):
        np.savez(directory / "d.npz", **arrays)
        return directory / "d.npz"
    return make


def file(name, content: bytes):
    def make(directory):
        (directory / name).write_bytes(content)
        return directory / name
    return make


def image(value=40, form="PNG", mode="L") -> bytes:
    from PIL import Image
    buffer = io.BytesIO()
    Image.new(mode, (10, 10), value).save(buffer, format=form)
    return buffer.getvalue()


def folder(files: dict):
    """Class folders: 'cats/0.png' -> bytes; a name ending in / is an empty folder."""
    def make(directory):
        root = directory / "pets"
        root.mkdir()
        for name, content in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            if not name.endswith("/"):
                (root / name).write_bytes(content)
        return root
    return make


def pets(extra=None, classes=("cats", "dogs"), form="PNG", n=4):
    extension = {"PNG": "png", "GIF": "gif", "BMP": "bmp"}[form]
    return folder({f"{c}/{i}.{extension}": image(40 * k, form)
                   for k, c in enumerate(classes) for i in range(n)} | (extra or {}))


def idx(images, labels, test=None, gzip_images=False, damage=None):
    """IDX files; `damage` maps a file name to a function of its bytes."""
    def make(directory):
        train = write_idx(directory, "train", images, labels)
        if test:
            write_idx(directory, "t10k", *test)
        for name, change in (damage or {}).items():
            (directory / name).write_bytes(change((directory / name).read_bytes()))
        if gzip_images:
            payload = train.read_bytes()
            train.unlink()
            train = directory / "train-images-idx3-ubyte.gz"
            train.write_bytes(gzip.compress(payload)[:-12])  # the gzip stream cut short
        return train
    return make


def idx_typed(array, code):
    """An IDX file of another type: 0x0D float32, 0x0C int32."""
    dtype = np.dtype(data.IDX_TYPES[code])
    return (bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            + array.astype(dtype).tobytes())


def labels_file_of(typed: bytes):
    def make(directory):
        train = write_idx(directory, "train", IMAGES, LABELS)
        (directory / "train-labels-idx1-ubyte").write_bytes(typed)
        return train
    return make


def with_nan(count_nan, count_inf):
    x = IMAGES.astype("float32") / 255
    x.reshape(-1)[:count_nan] = np.nan
    x.reshape(-1)[count_nan:count_nan + count_inf] = np.inf
    return x


def ragged():
    images = np.empty(2, object)
    images[:] = [np.zeros((6, 6)), np.zeros((7, 7))]
    return images


def npz_with_a_flipped_byte(directory):
    """np.savez stores the arrays uncompressed: a byte of x's pixels, changed, breaks
    the zip archive's checksum."""
    np.savez(directory / "d.npz", x=IMAGES, y=LABELS)
    blob = bytearray((directory / "d.npz").read_bytes())
    blob[blob.find(IMAGES.tobytes()) + 5] ^= 0xFF
    (directory / "d.npz").write_bytes(bytes(blob))
    return directory / "d.npz"


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _cut(blob: bytes) -> bytes:
    return blob[:len(blob) // 2]


ONE_HOT_NOT = np.stack([LABELS, LABELS], axis=1)  # (40, 2), rows not one-hot
DATA_MISTAKES = [
    # (id, files, input shape, words of the message)
    # --- labels in another layout than one class number per image
    ("labels N×2", npz(x=IMAGES, y=ONE_HOT_NOT), (6, 6, 1),
     ["one class number per image", "y in", "d.npz", "shape (40, 2)"]),
    ("labels N×5", npz(x=IMAGES, y=np.ones((40, 5))), (6, 6, 1),
     ["one class number per image", "shape (40, 5)"]),
    ("labels N×1 of another count", npz(x=IMAGES, y=LABELS[:30, None]), (6, 6, 1),
     ["one label per image", "40 images", "shape (40, 6, 6)", "30 labels", "shape (30, 1)"]),
    ("labels of another length", npz(x=IMAGES, y=LABELS[:39]), (6, 6, 1),
     ["one label per image", "40 images", "39 labels", "d.npz"]),
    ("labels a scalar", npz(x=IMAGES, y=np.array(3)), (6, 6, 1),
     ["one class number per image", "shape ()"]),
    ("labels not whole", npz(x=IMAGES, y=LABELS + 0.5), (6, 6, 1),
     ["whole numbers", "40 of 40 labels in y in", "the first 0.5 at index 0"]),
    ("labels NaN", npz(x=IMAGES, y=np.where(LABELS == 2, np.nan, LABELS)), (6, 6, 1),
     ["whole numbers", "10 of 40 labels", "the first nan at index 2"]),
    ("labels strings", npz(x=IMAGES, y=np.array(["cat", "dog"] * 20)), (6, 6, 1),
     ["class numbers 0, 1, 2", "y in", "of type <U3"]),
    ("labels bool", npz(x=IMAGES, y=LABELS % 2 == 0), (6, 6, 1),
     ["class numbers 0, 1, 2", "of type bool"]),
    ("labels negative", npz(x=IMAGES, y=LABELS - 1), (6, 6, 1),
     ["class numbers from 0", "10 of 40 labels in y in", "negative, the least -1"]),
    ("labels huge", npz(x=IMAGES, y=LABELS * 10**6), (6, 6, 1),
     ["below 100,000", "a label 3000000"]),
    ("one class", npz(x=IMAGES, y=np.full(40, 3)), (6, 6, 1),
     ["at least 2 classes", "all 40 images are of class '3'", "d.npz"]),
    ("test labels negative", npz(x_train=IMAGES[:30], y_train=LABELS[:30],
                                 x_test=IMAGES[30:], y_test=-LABELS[30:]), (6, 6, 1),
     ["class numbers from 0", "y_test in", "the least -3"]),
    # --- images of the wrong kind, rank, size or values
    ("no images", npz(x=IMAGES[:0], y=LABELS[:0]), (6, 6, 1),
     ["no images", "x in", "d.npz of shape (0, 6, 6)"]),
    ("one image", npz(x=IMAGES[:1], y=LABELS[:1]), (6, 6, 1),
     ["at least 2 images", "shape (1, 6, 6)"]),
    ("two images, too few to split", npz(x=IMAGES[:2], y=LABELS[:2]), (6, 6, 1),
     ["too few images to hold out 25% of each class", "2 images of 2 classes"]),
    ("x of rank 1", npz(x=IMAGES.reshape(-1), y=LABELS), (6, 6, 1),
     ["N×H×W or N×H×W×C", "x in", "shape (1440,)"]),
    ("x with 5 dims", npz(x=IMAGES[..., None, None], y=LABELS), (6, 6, 1),
     ["N×H×W or N×H×W×C", "shape (40, 6, 6, 1, 1)"]),
    ("vectors for an image input", npz(x=IMAGES.reshape(40, 36), y=LABELS), (6, 6, 1),
     ["N×H×W or N×H×W×C", "shape (40, 36)"]),  # the shape before the split
    ("images of zero width", npz(x=IMAGES[:, :, :0], y=LABELS), (6, 6, 1),
     ["at least one pixel", "shape (40, 6, 0)"]),
    ("images of strings", npz(x=IMAGES.astype(str), y=LABELS), (6, 6, 1),
     ["array of numbers", "of type <U", "shape (40, 6, 6)"]),
    ("complex pixels", npz(x=IMAGES.astype("complex64"), y=LABELS), (6, 6, 1),
     ["array of numbers", "complex64"]),
    ("object array", npz(x=ragged(), y=LABELS[:2]), (6, 6, 1),
     ["holds Python objects", "does not unpickle", "Received: x in", "d.npz"]),
    ("NaN and infinite pixels", npz(x=with_nan(2, 1), y=LABELS), (6, 6, 1),
     ["finite", "2 NaN and 1 infinite values in x in", "shape (40, 6, 6)"]),
    ("pixels beyond float32", npz(x=np.where(IMAGES == 7, 1e300, 0.0), y=LABELS),
     (6, 6, 1), ["32-bit floats", "1e+300"]),
    ("test images of another size", npz(
        x_train=IMAGES[:30], y_train=LABELS[:30],
        x_test=tiny_images(10, 8)[0], y_test=LABELS[30:]), (6, 6, 1),
     ["size of the training images", "x_train in", "shape (30, 6, 6)", "x_test in",
      "shape (10, 8, 8)"]),
    ("empty test set", npz(x_train=IMAGES, y_train=LABELS, x_test=IMAGES[:0],
                           y_test=LABELS[:0]), (6, 6, 1),
     ["no images", "x_test in", "shape (0, 6, 6)"]),
    ("vectors of another length", npz(x=IMAGES, y=LABELS), (10,),
     ["vectors of 10 values", "the images have 36", "x in", "d.npz"]),
    ("4 channels for 3", npz(x=np.repeat(IMAGES[..., None], 4, 3), y=LABELS), (6, 6, 3),
     ["4 channels", "x in", "d.npz"]),
    # --- files that are no .npz, or not all of one
    ("npz without y", npz(x=IMAGES), (6, 6, 1),
     ["needs arrays x and y", "lacks y", "Received: arrays x in", "d.npz"]),
    ("npz with x_train only", npz(x_train=IMAGES), (6, 6, 1),
     ["lacks x_test, y_test, y_train", "Received: arrays x_train in"]),
    ("a text file as .npz", file("d.npz", b"x,y\n1,2\n"), (6, 6, 1),
     ["not an .npz file", "not a zip archive", "d.npz"]),
    ("an .npy as .npz", file("d.npz", npy_bytes(IMAGES)), (6, 6, 1),
     ["not an .npz file", "a single array, as np.save writes"]),
    ("npz cut in half", lambda d: file("d.npz", _cut(npz(x=IMAGES, y=LABELS)(d)
                                                      .read_bytes()))(d), (6, 6, 1),
     ["cannot read the .npz file", "d.npz"]),
    ("npz with a damaged array", npz_with_a_flipped_byte, (6, 6, 1),
     ["damaged: its array x cannot be read", "CRC", "x in", "d.npz"]),
    ("no such directory", lambda d: d / "nowhere", (6, 6, 1),
     ["no such file or directory", "nowhere"]),
    # --- IDX files
    ("IDX wrong magic number", idx(IMAGES, LABELS, damage={
        "train-images-idx3-ubyte": lambda b: b"\x08\x03" + b[2:]}), (6, 6, 1),
     ["not an IDX file", "train-images-idx3-ubyte", "starts with 0803"]),
    ("IDX truncated", idx(IMAGES, LABELS, damage={
        "train-images-idx3-ubyte": lambda b: b[:-7]}), (6, 6, 1),
     ["truncated", "dimensions (40, 6, 6)", "1,433 bytes of data"]),
    ("IDX labels count", idx(IMAGES, LABELS[:39]), (6, 6, 1),
     ["one label per image", "40 images", "train-images-idx3-ubyte of shape (40, 6, 6)",
      "39 labels", "train-labels-idx1-ubyte of shape (39,)"]),
    ("IDX test set labels count", idx(IMAGES[:30], LABELS[:30],
                                      test=(IMAGES[30:], LABELS[30:39])), (6, 6, 1),
     ["one label per image", "t10k-images-idx3-ubyte", "10 images", "9 labels"]),
    ("IDX test images of another size", idx(IMAGES[:30], LABELS[:30], test=(
        tiny_images(10, 5)[0], LABELS[30:])), (6, 6, 1),
     ["size of the training images", "(30, 6, 6)", "t10k-images-idx3-ubyte",
      "(10, 5, 5)"]),
    ("IDX labels file of a header only", idx(IMAGES, LABELS, damage={
        "train-labels-idx1-ubyte": lambda b: b"\0\0\x08\x01"}), (6, 6, 1),
     ["truncated", "dimensions ()", "train-labels-idx1-ubyte"]),
    ("IDX gzip cut short", idx(IMAGES, LABELS, gzip_images=True), (6, 6, 1),
     ["cannot read the IDX file", "train-images-idx3-ubyte.gz"]),
    ("IDX float labels", labels_file_of(idx_typed(LABELS / 2, 0x0D)), (6, 6, 1),
     ["whole numbers", "20 of 40 labels", "train-labels-idx1-ubyte"]),
    ("IDX one class", labels_file_of(idx_typed(np.ones(40), 0x0C)), (6, 6, 1),
     ["at least 2 classes", "all 40 images are of class '1'"]),
    # --- folders of images
    ("corrupt image", pets({"cats/9.png": image()[:40]}), (5, 5, 3),
     ["cannot decode an image", "pets/cats/9.png"]),
    ("a text file named .jpg", pets({"dogs/notes.jpg": b"hello"}), (5, 5, 3),
     ["cannot decode an image", "pets/dogs/notes.jpg"]),
    ("one class folder", pets(classes=("cats",)), (5, 5, 3),
     ["at least 2 classes", "all 4 images are of class 'cats'", "pets"]),
    ("a second class folder empty", pets(classes=("cats",), extra={"dogs/": None}),
     (5, 5, 3), ["at least 2 classes", "class 'cats'"]),
    ("empty folder", folder({}), (5, 5, 3), ["cannot read images", "pets"]),
    ("folders with no images", folder({"cats/a.txt": b"a", "dogs/b.txt": b"b"}),
     (5, 5, 3), ["cannot read images", "images found in directory", "pets"]),
    ("too few images to hold out", pets(n=1), (5, 5, 3),
     ["too few images to hold out 25% for testing", "2 images", "pets"]),
    ("GIF images for a grey network", pets(form="GIF"), (5, 5, 1),
     ["cannot read this image with 1 channel", "GIF", "pets/cats/0.gif"]),
    ("folders for a vector network", pets(), (25,),
     ["needs a network whose input is H×W×1", "input 25"]),
]


def snapshot(directory: Path) -> dict:
    return {str(p.relative_to(directory)): p.is_file() and hashlib.sha256(
        p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*"))}


def test_the_table_of_data_mistakes_is_large():
    assert len(DATA_MISTAKES) >= 40
    assert len({case[0] for case in DATA_MISTAKES}) == len(DATA_MISTAKES)


@pytest.mark.parametrize("make, shape, words", [case[1:] for case in DATA_MISTAKES],
                         ids=[case[0] for case in DATA_MISTAKES])
def test_a_data_mistake_is_one_data_error(tmp_path, make, shape, words):
    spec = str(make(tmp_path))
    before = snapshot(tmp_path)
    with pytest.raises(DataError) as info:
        data.load(spec, shape)
    message = info.value.message
    assert "Received: " in message
    for word in words:
        assert word in message, message
    assert snapshot(tmp_path) == before  # the user's files are read, never changed


@pytest.mark.parametrize("make, words", [
    (npz(x=ragged(), y=LABELS[:2]), ["holds Python objects"]),
    (pets({"cats/9.png": image()[:40]}), ["cannot decode an image", "cats/9.png"]),
    (npz(x=IMAGES, y=np.full(40, 3)), ["at least 2 classes"]),
    (npz(x=with_nan(2, 1), y=LABELS), ["2 NaN and 1 infinite"]),
], ids=["object array", "corrupt image", "one class", "NaN"])
def test_train_reports_a_data_mistake_with_status_2(tmp_path, capsys, make, words):
    spec = str(make(tmp_path))
    before = snapshot(tmp_path)
    status = cli.main(["train", str(FIXTURES / "plain20-digits.arch"), "--data", spec,
                       "-o", str(tmp_path / "out" / "m.keras")])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and "internal error" not in err
    assert "error: " in err and all(word in err for word in words), err
    assert snapshot(tmp_path) == before


# --- what the validation lets through, adapted ------------------------------------------

def test_labels_of_shape_n_by_1_as_keras_cifar10_gives_them_are_flattened(tmp_path):
    np.savez(tmp_path / "c.npz", x=IMAGES, y=LABELS[:, None].astype("uint8"))
    d = data.load(str(tmp_path / "c.npz"), (6, 6, 1))
    # the classes survive: before, every label became 0 (the argmax of one column)
    assert np.bincount(np.concatenate([d.y_train, d.y_test])).tolist() == [10] * 4
    assert "labels of shape (40, 1) flattened to (40,)" in d.notes
    x, y = d.split("all")  # each image keeps its own label
    pixels = (x[..., 0] * 255).round().astype(np.uint8)
    assert sorted(zip(map(bytes, pixels), y.tolist())) == \
        sorted(zip(map(bytes, IMAGES), LABELS.tolist()))


def test_one_hot_labels_and_whole_float_labels_are_read_as_class_numbers(tmp_path):
    np.savez(tmp_path / "h.npz", x=IMAGES, y=np.eye(4, dtype="float32")[LABELS])
    np.savez(tmp_path / "f.npz", x=IMAGES, y=LABELS.astype("float64"))
    plain = data.load(str(tmp_path / "h.npz"), (6, 6, 1))
    for name, note in (("h.npz", "one-hot labels of shape (40, 4) read as class numbers"),
                       ("f.npz", "labels stored as float64 read as whole numbers")):
        d = data.load(str(tmp_path / name), (6, 6, 1))
        assert note in d.notes
        np.testing.assert_array_equal(d.y_test, plain.y_test)
        assert d.y_test.dtype == np.int64


def test_the_test_set_of_a_folder_is_read_and_the_first_bad_file_found(tmp_path):
    make = pets({"cats/9.png": image()[:40], "dogs/9.png": b"junk"})
    with pytest.raises(DataError, match="cats/9.png"):  # the first, in sorted order
        data.load(str(make(tmp_path)), (5, 5, 3))
