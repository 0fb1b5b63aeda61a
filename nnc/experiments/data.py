"""The data of `nnc train`, `nnc eval` and `nnc lesion`, read from disk, never downloaded:

    digits                      scikit-learn's bundled 8×8 digits (the offline default)
    DIR/                        a folder per class of image files, read by Keras's
                                image_dataset_from_directory; or a folder of IDX files
    data.npz                    arrays x and y, or x_train, y_train, x_test, y_test
                                (the layout of Keras's mnist.npz)
    train-images-idx3-ubyte     MNIST's own IDX format, gzipped or not; the labels file
                                and a t10k- test set beside it are found by name

A data set without its own test set is split, stratified by class, with a fixed seed, so
that `nnc eval` and `nnc lesion` find the same held-out images that training left out.
The images are then adapted to the network's input: pixels scaled to 0–1, upsampled by a
whole factor and zero-padded (or resized down), grey copied to three channels; every
adaptation is written as a note, which the commands print.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
from dataclasses import dataclass, field

import numpy as np

from nnc.errors import DataError

DIGITS = "digits"
TEST_FRACTION = 0.25
# IDX type codes (the third byte of the magic number) -> big-endian numpy dtypes
IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
KINDS_OF_DATA = ("'digits', a directory of class folders or of IDX files, an .npz file "
                 "with x and y, or an IDX images file such as train-images-idx3-ubyte")


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    notes: list[str] = field(default_factory=list)

    def split(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        if which == "train":
            return self.x_train, self.y_train
        if which == "test":
            return self.x_test, self.y_test
        return (np.concatenate([self.x_train, self.x_test]),
                np.concatenate([self.y_train, self.y_test]))

    def check_fits(self, outputs: int) -> None:
        """The labels must index the network's outputs."""
        largest = int(max(self.y_train.max(initial=0), self.y_test.max(initial=0)))
        if largest >= outputs:
            raise DataError(f"the data has labels up to {largest}, but the network has "
                            f"{outputs} outputs. Received: --data {self.name}")


def load(spec: str, input_shape: tuple, seed: int = 0,
         test_fraction: float = TEST_FRACTION) -> Dataset:
    """The data named by `spec`, split and adapted to a network's input shape."""
    if spec == DIGITS:
        x, y, names, notes = digits()
        data = split(spec, x, y, names, seed, test_fraction, notes)
    elif os.path.isdir(spec) and idx_images(spec):
        data = from_idx(spec, seed, test_fraction)
    elif os.path.isdir(spec):
        return from_directory(spec, input_shape, seed, test_fraction)
    elif not os.path.exists(spec):
        raise DataError(f"no such file or directory; --data takes {KINDS_OF_DATA}. "
                        f"Received: --data {spec}")
    elif spec.endswith(".npz"):
        data = from_npz(spec, seed, test_fraction)
    elif "idx" in os.path.basename(spec):
        data = from_idx(spec, seed, test_fraction)
    else:
        raise DataError(f"cannot tell what kind of data this is; --data takes "
                        f"{KINDS_OF_DATA}. Received: --data {spec}")
    data.x_train, adapted = adapt(data.x_train, input_shape)
    data.x_test, _ = adapt(data.x_test, input_shape)
    data.notes += adapted
    return data


# --- sources ------------------------------------------------------------------------

def digits():
    try:
        from sklearn.datasets import load_digits
    except ModuleNotFoundError:
        raise DataError("--data digits needs scikit-learn, which ships the digits: pip "
                        "install scikit-learn. Received: no module named sklearn") from None
    bunch = load_digits()
    images = (bunch.images / 16.0).astype("float32")  # the digits' values are 0-16
    return (images, bunch.target, [str(n) for n in bunch.target_names],
            ["digits: scikit-learn's 1,797 8×8 grey images of 10 digits, values 0–16 "
             "scaled to 0–1"])


def from_npz(path: str, seed: int, test_fraction: float) -> Dataset:
    try:
        arrays = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read the .npz file: {e}. Received: --data {path}") from None
    keys = set(arrays.files)
    if {"x_train", "y_train", "x_test", "y_test"} <= keys:
        x_train, notes = pixels(arrays["x_train"])
        x_test, _ = pixels(arrays["x_test"])
        y_train, y_test = labels(arrays["y_train"], path), labels(arrays["y_test"], path)
        names = class_names(np.concatenate([y_train, y_test]))
        return Dataset(path, x_train, y_train, x_test, y_test, names,
                       [f"{path}: its own train and test arrays", *notes])
    if {"x", "y"} <= keys:
        x, notes = pixels(arrays["x"])
        y = labels(arrays["y"], path)
        return split(path, x, y, class_names(y), seed, test_fraction, notes)
    raise DataError(f"an .npz file needs arrays x and y, or x_train, y_train, x_test and "
                    f"y_test. Received: arrays {', '.join(sorted(keys)) or 'none'}")


def idx_images(directory: str) -> list[str]:
    return sorted(n for n in os.listdir(directory) if "-images-idx" in n)


def from_idx(path: str, seed: int, test_fraction: float) -> Dataset:
    """A train images file (or a directory holding one), its labels beside it, and the
    t10k- test set where there is one, as MNIST is distributed."""
    if os.path.isdir(path):
        found = [n for n in idx_images(path) if not n.startswith("t10k-")]
        if not found:
            raise DataError(f"the directory has IDX test images but no training images "
                            f"(train-images-idx3-ubyte). Received: --data {path}")
        path = os.path.join(path, found[0])
    directory, name = os.path.split(path)
    x, notes = pixels(read_idx(path))
    y = labels(read_idx(labels_file(path)), path)
    test = os.path.join(directory, name.replace("train-", "t10k-", 1))
    if name.startswith("train-") and os.path.exists(test):
        x_test, _ = pixels(read_idx(test))
        y_test = labels(read_idx(labels_file(test)), test)
        return Dataset(path, x, y, x_test, y_test, class_names(np.concatenate([y, y_test])),
                       [f"{path}: IDX images, with the test set {test}", *notes])
    return split(path, x, y, class_names(y), seed, test_fraction,
                 [f"{path}: IDX images", *notes])


def labels_file(images: str) -> str:
    stem = images.removesuffix(".gz").replace("-images-idx3", "-labels-idx1")
    for candidate in (stem, stem + ".gz"):
        if os.path.exists(candidate):
            return candidate
    raise DataError(f"found no labels beside the IDX images (looked for {stem}[.gz]). "
                    f"Received: --data {images}")


def read_idx(path: str) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DataError(f"cannot read the IDX file: {e}. Received: {path}") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_TYPES:
        raise DataError(f"not an IDX file: it does not start with two zero bytes and a "
                        f"type code. Received: {path}")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", data[4:header]) if len(data) >= header else ()
    dtype = np.dtype(IDX_TYPES[data[2]])
    if len(dims) != ndim or len(data) - header != math.prod(dims) * dtype.itemsize:
        raise DataError(f"the IDX file is truncated or longer than its header says "
                        f"(dimensions {dims}). Received: {path}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims)


def from_directory(path: str, input_shape: tuple, seed: int,
                   test_fraction: float) -> Dataset:
    """Keras reads and resizes the images itself, so they arrive at the input size."""
    if len(input_shape) != 3 or input_shape[2] not in (1, 3, 4):
        raise DataError(f"a directory of images needs a network whose input is H×W×1, "
                        f"×3 or ×4. Received: input {'×'.join(map(str, input_shape))}")
    import keras
    height, width, channels = input_shape
    mode = {1: "grayscale", 3: "rgb", 4: "rgba"}[channels]
    try:
        train, test = keras.utils.image_dataset_from_directory(
            path, label_mode="int", color_mode=mode, image_size=(height, width),
            batch_size=None, seed=seed, validation_split=test_fraction, subset="both",
            verbose=False)
    except ValueError as e:
        raise DataError(f"cannot read images from the directory: {e} Received: "
                        f"--data {path}") from None
    (x_train, y_train), (x_test, y_test) = arrays_of(train), arrays_of(test)
    return Dataset(path, x_train / 255.0, y_train, x_test / 255.0, y_test,
                   list(train.class_names),
                   [f"{path}: {len(train.class_names)} class folders, "
                    f"{len(y_train) + len(y_test):,} images read as {mode}, resized to "
                    f"{height}×{width} (bilinear) and scaled to 0–1; "
                    f"{len(y_test):,} held out"])


def arrays_of(dataset) -> tuple[np.ndarray, np.ndarray]:
    pairs = list(dataset.as_numpy_iterator())
    if not pairs:
        return np.zeros((0,)), np.zeros((0,), "int64")
    return (np.stack([x for x, _ in pairs]).astype("float32"),
            np.array([y for _, y in pairs], "int64"))


# --- labels, pixels and the split ---------------------------------------------------

def labels(y: np.ndarray, source: str) -> np.ndarray:
    if y.ndim == 2:  # one-hot rows
        y = y.argmax(axis=1)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise DataError(f"labels must be whole numbers from 0, one per image. Received: "
                        f"an array of {y.dtype} of shape {y.shape} in {source}")
    return y.astype("int64")


def class_names(y: np.ndarray) -> list[str]:
    return [str(i) for i in range(int(y.max(initial=0)) + 1)]


def pixels(x: np.ndarray) -> tuple[np.ndarray, list[str]]:
    if x.dtype == np.uint8:
        return (x / 255.0).astype("float32"), ["pixels scaled from 0–255 to 0–1"]
    return x.astype("float32"), []


def split(name, x, y, names, seed, fraction, notes) -> Dataset:
    """Hold out `fraction` of each class, chosen by `seed`."""
    if len(x) != len(y):
        raise DataError(f"there must be one label per image. Received: {len(x)} images "
                        f"and {len(y)} labels in {name}")
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        test[members[:int(len(members) * fraction + 0.5)]] = True  # halves round up
    return Dataset(name, x[~test], y[~test], x[test], y[test], names,
                   [*notes, f"{test.sum():,} of {len(y):,} images held out for testing "
                            f"({fraction:.0%} of each class, seed {seed})"])


# --- adapting images to the input ---------------------------------------------------

def adapt(x: np.ndarray, shape: tuple) -> tuple[np.ndarray, list[str]]:
    """Images (N, H, W) or (N, H, W, C) made to fit an input of `shape`."""
    if x.ndim == 3:
        x = x[..., None]
    if len(shape) == 1:
        if math.prod(x.shape[1:]) != shape[0]:
            raise DataError(f"the network takes vectors of {shape[0]} values; the images "
                            f"have {math.prod(x.shape[1:])}. Received: images "
                            f"{'×'.join(map(str, x.shape[1:]))}")
        return x.reshape(len(x), -1), ["images flattened to vectors"]
    if x.ndim != 4:
        raise DataError(f"images must be N×H×W or N×H×W×C arrays. Received: shape "
                        f"{x.shape}")
    notes = []
    x, note = adapt_channels(x, shape[2])
    notes += note
    x, note = adapt_size(x, shape[:2])
    return x, notes + note


def adapt_channels(x: np.ndarray, channels: int) -> tuple[np.ndarray, list[str]]:
    have = x.shape[3]
    if have == channels:
        return x, []
    if have == 1:
        return np.repeat(x, channels, axis=3), [f"grey copied to {channels} channels"]
    if have == 3 and channels == 1:  # ITU-R BT.601 luma, as PIL's convert("L")
        grey = x @ np.array([0.299, 0.587, 0.114], "float32")
        return grey[..., None], ["RGB converted to grey"]
    raise DataError(f"the images have {have} channels and the network takes {channels}; "
                    f"nnc converts only grey to RGB and RGB to grey. Received: images with "
                    f"{have} channels")


def adapt_size(x: np.ndarray, size: tuple) -> tuple[np.ndarray, list[str]]:
    """Smaller images: each pixel repeated k×k for the largest whole k that fits, then
    zero borders (LeCun et al. centred MNIST's 28×28 in 32×32 the same way); larger
    ones: resized, as image_dataset_from_directory would."""
    (h, w), (height, width) = x.shape[1:3], size
    if (h, w) == (height, width):
        return x, []
    if h > height or w > width:
        import keras
        resized = keras.ops.image.resize(x, (height, width), interpolation="bilinear",
                                         antialias=True)
        return (keras.ops.convert_to_numpy(resized),
                [f"resized from {h}×{w} to {height}×{width} (bilinear)"])
    k = min(height // h, width // w)
    x = np.repeat(np.repeat(x, k, axis=1), k, axis=2)
    top, left = (height - h * k) // 2, (width - w * k) // 2
    x = np.pad(x, ((0, 0), (top, height - h * k - top), (left, width - w * k - left),
                   (0, 0)))
    how = [f"each pixel repeated {k}×{k}"] if k > 1 else []
    if (h * k, w * k) != (height, width):
        how.append(f"zero-padded to {height}×{width}")
    return x, [f"{h}×{w} images made {height}×{width}: {', '.join(how)}"]
