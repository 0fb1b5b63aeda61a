"""The data of `nnc train`, `nnc eval` and `nnc lesion`, read from disk, never downloaded:

    digits                      scikit-learn's bundled 8×8 digits (the offline default)
    DIR/                        a folder per class of image files, read by Keras's
                                image_dataset_from_directory; or a folder of IDX files
    data.npz                    arrays x and y, or x_train, y_train, x_test, y_test
                                (the layout of Keras's mnist.npz); y may be masks, for
                                a network whose output is per-pixel classes (labels.py)
    train-images-idx3-ubyte     MNIST's own IDX format, gzipped or not; the labels file
                                and a t10k- test set beside it are found by name

Every reader hands its arrays, as they are in the files, to `validate`, which refuses
what cannot be trained on (wrong shapes, types or counts, labels that are not class
numbers, NaN pixels, a single class, test images of another size) with a message that
names the file and gives the numbers as they are there. A data set without its own test
set is then split, stratified by class (masks are not), with a fixed seed, so that
`nnc eval` and `nnc lesion` find the same held-out images that training left out. The images are
adapted to the network's input: pixels scaled to 0–1, upsampled by a whole factor and
zero-padded (or resized down), grey copied to three channels; every adaptation is
written as a note, which the commands print.
"""
from __future__ import annotations

import gzip
import math
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from nnc.backends.keras.runtime import import_keras
from nnc.errors import DataError
from nnc.experiments.labels import check_labels, check_masks, per_pixel
from nnc.wording import dims

DIGITS = "digits"
TEST_FRACTION = 0.25
# IDX type codes (the third byte of the magic number) -> big-endian numpy dtypes
IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # those Keras reads from folders
NPZ_LAYOUTS = ({"x": "x_train", "y": "y_train", "x_test": "x_test", "y_test": "y_test"},
               {"x": "x", "y": "y"})  # Keras's mnist.npz first, as it is the more specific
# What a damaged .npz or gzip file raises from numpy, zipfile, zlib and gzip
READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error,
               NotImplementedError, RuntimeError, MemoryError)
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
                            f"{outputs} outputs (classes 0–{outputs - 1}). "
                            f"Received: --data {self.name}")


@dataclass
class Found:
    """A reader's arrays as they are in the files: x and y, and x_test and y_test where
    the data has its own test set. `where` names each array for messages."""
    arrays: dict[str, np.ndarray]
    where: dict[str, str]
    notes: list[str] = field(default_factory=list)
    class_names: list[str] | None = None  # class folders' names; else the labels'


def load(spec: str, input_shape: tuple, seed: int = 0,
         test_fraction: float = TEST_FRACTION, output_shape: tuple | None = None) -> Dataset:
    """The data named by `spec`, checked, split and adapted to a network's input shape;
    with the network's `output_shape`, the labels are checked against it too (masks,
    where the output is a map of per-pixel classes)."""
    if per_pixel(output_shape) and (os.path.isdir(spec) or not spec.endswith(".npz")):
        raise DataError(f"the network's output is a map of per-pixel classes "
                        f"({dims(output_shape)}), so its data is an .npz file of images x "
                        f"and masks y; 'digits', class folders and IDX files have one "
                        f"label per image. Received: --data {spec}")
    found = read(spec, input_shape, seed, test_fraction)
    arrays, notes = validate(found, input_shape, output_shape)
    for key in ("x", "x_test"):
        if key in arrays:
            arrays[key], adapted = adapt(arrays[key], input_shape, found.where[key])
            notes += [n for n in adapted if n not in notes]
    x, y = arrays["x"], arrays["y"]
    largest = max(int(arrays[key].max()) for key in ("y", "y_test") if key in arrays)
    names = found.class_names or [str(i) for i in range(largest + 1)]
    if "x_test" in arrays:
        dataset = Dataset(spec, x, y, arrays["x_test"], arrays["y_test"], names, notes)
    else:
        dataset = split(spec, x, y, names, seed, test_fraction, notes, found.where["x"])
    if output_shape is not None:
        dataset.check_fits(output_shape[-1])
    return dataset


def read(spec: str, input_shape: tuple, seed: int, test_fraction: float) -> Found:
    if spec == DIGITS:
        return digits()
    if os.path.isdir(spec):
        if idx_images(spec):
            return from_idx(spec)
        return from_directory(spec, input_shape, seed, test_fraction)
    if not os.path.exists(spec):
        raise DataError(f"no such file or directory; --data takes {KINDS_OF_DATA}. "
                        f"Received: --data {spec}")
    if spec.endswith(".npz"):
        return from_npz(spec)
    if "idx" in os.path.basename(spec):
        return from_idx(spec)
    raise DataError(f"cannot tell what kind of data this is; --data takes "
                    f"{KINDS_OF_DATA}. Received: --data {spec}")


# --- the one check of every reader's arrays ---------------------------------------------

def validate(found: Found, input_shape: tuple, output_shape: tuple | None = None
             ) -> tuple[dict[str, np.ndarray], list[str]]:
    """Refuse what cannot be trained on, with the file and the numbers as they are
    there; return the pixels as float32 (uint8 scaled to 0–1), the labels as int64
    class numbers (masks of them for an `output_shape` H'×W'×K), and notes on what was
    adapted."""
    arrays, where, notes = dict(found.arrays), found.where, list(found.notes)
    for x_key, y_key in (("x", "y"), ("x_test", "y_test")):
        if x_key in arrays:
            x, y = arrays[x_key], arrays[y_key]
            arrays[x_key], pixel_notes = check_images(x, where[x_key], input_shape)
            if per_pixel(output_shape):
                arrays[y_key], label_notes = check_masks(y, where[y_key], x, where[x_key],
                                                         input_shape, output_shape)
            else:
                arrays[y_key], label_notes = check_labels(y, where[y_key], x, where[x_key])
            notes += [n for n in pixel_notes + label_notes if n not in notes]
    if len(arrays["y"]) < 2:
        raise DataError(f"there must be at least 2 images to train on. Received: "
                        f"{where['x']} of shape {found.arrays['x'].shape}")
    if "x_test" in arrays and found.arrays["x_test"].shape[1:] != found.arrays["x"].shape[1:]:
        raise DataError(f"the test images must have the size of the training images. "
                        f"Received: {where['x']} of shape {found.arrays['x'].shape} and "
                        f"{where['x_test']} of shape {found.arrays['x_test'].shape}")
    y = np.concatenate([arrays["y"], arrays.get("y_test", arrays["y"][:0])])
    classes = np.unique(y)
    if len(classes) < 2:
        name = found.class_names[classes[0]] if found.class_names else str(classes[0])
        what = "pixels of the " if y.ndim > 1 else ""
        raise DataError(f"a classifier needs at least 2 classes. Received: all {what}"
                        f"{len(y):,} images are of class '{name}' in {where['y']}")
    return arrays, notes


def check_images(x: np.ndarray, where: str,
                 input_shape: tuple) -> tuple[np.ndarray, list[str]]:
    vectors = len(input_shape) == 1
    if x.dtype.kind not in "biuf":
        raise DataError(f"images must be an array of numbers. Received: {where} of type "
                        f"{x.dtype} and shape {x.shape}")
    if x.ndim and not len(x):
        raise DataError(f"there are no images. Received: {where} of shape {x.shape}")
    if x.ndim not in ((2, 3, 4) if vectors else (3, 4)):
        raise DataError(f"images must be an N×H×W or N×H×W×C array"
                        f"{' (or N vectors, N×D)' if vectors else ''}. Received: {where} "
                        f"of shape {x.shape}")
    if 0 in x.shape:
        raise DataError(f"images must have at least one pixel in each dimension. "
                        f"Received: {where} of shape {x.shape}")
    if x.dtype.kind == "f":
        nan, infinite = int(np.isnan(x).sum()), int(np.isinf(x).sum())
        if nan or infinite:
            raise DataError(f"pixels must be finite numbers. Received: {nan:,} NaN and "
                            f"{infinite:,} infinite values in {where} of shape {x.shape}")
        if x.dtype.itemsize > 4 and np.abs(x).max() > np.finfo("float32").max:
            raise DataError(f"pixels must fit in 32-bit floats (up to 3.4e38). Received: "
                            f"{np.abs(x).max():g} in {where}")
    if x.dtype == np.uint8:
        return (x / 255.0).astype("float32"), ["pixels scaled from 0–255 to 0–1"]
    return x.astype("float32"), []


def said(e: Exception) -> str:
    """A library's error message as part of a sentence of ours: without its full stop."""
    return str(e).strip().rstrip(".")


# --- sources ------------------------------------------------------------------------

def digits() -> Found:
    try:
        from sklearn.datasets import load_digits
    except ModuleNotFoundError:
        raise DataError("--data digits needs scikit-learn, which ships the digits: pip "
                        "install scikit-learn. Received: no module named sklearn") from None
    bunch = load_digits()
    images = (bunch.images / 16.0).astype("float32")  # the digits' values are 0-16
    return Found({"x": images, "y": bunch.target}, {"x": "digits", "y": "digits"},
                 [("digits: scikit-learn's 1,797 8×8 grey images of 10 digits, values "
                  "0–16 scaled to 0–1")])


def from_npz(path: str) -> Found:
    try:
        with open(path, "rb") as f:
            start = f.read(6)
    except OSError as e:
        raise DataError(f"cannot read the .npz file: {e.strerror or e}. Received: "
                        f"--data {path}") from None
    if start[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip archive's first bytes
        what = ("a single array, as np.save writes" if start == b"\x93NUMPY" else
                "it is not a zip archive")
        raise DataError(f"not an .npz file ({what}); write the arrays with "
                        f"np.savez(path, x=..., y=...). Received: --data {path}")
    try:
        npz = np.load(path, allow_pickle=False)
    except READ_ERRORS as e:
        raise DataError(f"cannot read the .npz file: {said(e)}. Received: --data "
                        f"{path}") from None
    with npz:
        keys = set(npz.files)
        layout = next((lay for lay in NPZ_LAYOUTS if set(lay.values()) <= keys), None)
        if layout is None:
            wanted = NPZ_LAYOUTS[0 if keys & set(NPZ_LAYOUTS[0].values()) else 1]
            missing = sorted(set(wanted.values()) - keys)
            raise DataError(f"an .npz file needs arrays x and y, or x_train, y_train, "
                            f"x_test and y_test; this one lacks {', '.join(missing)}. "
                            f"Received: arrays {', '.join(sorted(keys)) or 'none'} in "
                            f"{path}")
        arrays = {key: npz_array(npz, name, path) for key, name in layout.items()}
    note = f"{path}: its own train and test arrays" if "x_test" in layout else None
    return Found(arrays, {key: f"{name} in {path}" for key, name in layout.items()},
                 [note] if note else [])


def npz_array(npz, name: str, path: str) -> np.ndarray:
    try:
        return npz[name]
    except READ_ERRORS as e:
        if "allow_pickle" in str(e):  # numpy's refusal to unpickle an object array
            raise DataError(f"the array {name} holds Python objects, as np.savez writes "
                            f"a list of images of different sizes, and nnc does not "
                            f"unpickle them; store numbers, the images all of one size. "
                            f"Received: {name} in {path}") from None
        raise DataError(f"the .npz file is damaged: its array {name} cannot be read "
                        f"({said(e)}). Received: {name} in {path}") from None


def idx_images(directory: str) -> list[str]:
    return sorted(n for n in os.listdir(directory) if "-images-idx" in n)


def from_idx(path: str) -> Found:
    """A train images file (or a directory holding one), its labels beside it, and the
    t10k- test set where there is one, as MNIST is distributed."""
    if os.path.isdir(path):
        found = [n for n in idx_images(path) if not n.startswith("t10k-")]
        if not found:
            raise DataError(f"the directory has IDX test images but no training images "
                            f"(train-images-idx3-ubyte). Received: --data {path}")
        path = os.path.join(path, found[0])
    directory, name = os.path.split(path)
    files = {"x": path, "y": labels_file(path)}
    test = os.path.join(directory, name.replace("train-", "t10k-", 1))
    if name.startswith("train-") and os.path.exists(test):
        files.update(x_test=test, y_test=labels_file(test))
    return Found({key: read_idx(file) for key, file in files.items()}, files,
                 [f"{path}: IDX images" + (f", with the test set {test}"
                                           if "x_test" in files else "")])


def labels_file(images: str) -> str:
    stem = images.removesuffix(".gz").replace("-images-idx3", "-labels-idx1")
    for candidate in (stem, stem + ".gz"):
        if os.path.exists(candidate):
            return candidate
    raise DataError(f"found no labels beside the IDX images (looked for {stem}[.gz]). "
                    f"Received: {images}")


def read_idx(path: str) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot read the IDX file: {said(e)}. Received: {path}") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_TYPES:
        raise DataError(f"not an IDX file: it does not start with two zero bytes and a "
                        f"type code. Received: {path}, "
                        f"{f'which starts with {data[:4].hex()}' if data else 'an empty file'}")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", data[4:header]) if len(data) >= header else ()
    dtype = np.dtype(IDX_TYPES[data[2]])
    if len(dims) != ndim or len(data) - header != math.prod(dims) * dtype.itemsize:
        raise DataError(f"the IDX file is truncated or longer than its header says "
                        f"(dimensions {dims}, {len(data) - header:,} bytes of data). "
                        f"Received: {path}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims)


def from_directory(path: str, input_shape: tuple, seed: int,
                   test_fraction: float) -> Found:
    """Keras reads and resizes the images itself, so they arrive at the input size."""
    if len(input_shape) != 3 or input_shape[2] not in (1, 3, 4):
        raise DataError(f"a directory of images needs a network whose input is H×W×1, "
                        f"×3 or ×4. Received: input {'×'.join(map(str, input_shape))}")
    count = sum(1 for _ in image_files(path))
    if count and count * test_fraction < 1:  # else Keras holds out all and says none
        raise DataError(f"too few images to hold out {test_fraction:.0%} for testing. "
                        f"Received: {count:,} images in {path}")
    keras = import_keras()
    import tensorflow as tf
    height, width, channels = input_shape
    mode = {1: "grayscale", 3: "rgb", 4: "rgba"}[channels]
    try:
        train, test = keras.utils.image_dataset_from_directory(
            path, label_mode="int", color_mode=mode, image_size=(height, width),
            batch_size=None, seed=seed, validation_split=test_fraction, subset="both",
            verbose=False)
        (x, y), (x_test, y_test) = arrays_of(train), arrays_of(test)
    except (ValueError, OSError) as e:
        raise DataError(f"cannot read images from the directory: {said(e)}. Received: "
                        f"--data {path}") from None
    except tf.errors.OpError as e:
        raise DataError(undecodable(path, channels, e)) from None
    return Found({"x": x / 255.0, "y": y, "x_test": x_test / 255.0, "y_test": y_test},
                 {"x": f"the images in {path}", "y": f"the class folders of {path}",
                  "x_test": f"the images held out of {path}",
                  "y_test": f"the class folders of {path}"},
                 [(f"{path}: {len(train.class_names)} class folders, "
                  f"{len(y) + len(y_test):,} images read as {mode}, resized to "
                  f"{height}×{width} (bilinear) and scaled to 0–1; "
                  f"{len(y_test):,} held out")], list(train.class_names))


def arrays_of(dataset) -> tuple[np.ndarray, np.ndarray]:
    pairs = list(dataset.as_numpy_iterator())
    if not pairs:
        return np.zeros((0,)), np.zeros((0,), "int64")
    return (np.stack([x for x, _ in pairs]).astype("float32"),
            np.array([y for _, y in pairs], "int64"))


def image_files(path: str):
    """The files Keras reads from a directory: those with an image's extension
    anywhere under its class folders (which do not start with a dot)."""
    for root, folders, files in os.walk(path):
        folders[:] = sorted(f for f in folders if root != path or not f.startswith("."))
        for name in sorted(files) if root != path else ():
            if name.lower().endswith(IMAGE_FORMATS):
                yield os.path.join(root, name)


def undecodable(path: str, channels: int, error) -> str:
    """Which image file TensorFlow cannot read or decode as Keras does, and why
    (TensorFlow's error does not say)."""
    import tensorflow as tf
    def decode(file: str, channels: int) -> None:
        tf.io.decode_image(tf.io.read_file(file), channels=channels, expand_animations=False)
    def why(e) -> str:
        return re.sub(r"\{\{.*?\}\}|\[Op:.*", "", e.message).strip().rstrip(".")
    for file in image_files(path):
        try:
            decode(file, channels)
        except tf.errors.OpError as e:
            try:
                decode(file, 0)  # the file's own channels
            except tf.errors.OpError:
                return (f"cannot decode an image ({why(e)}); Keras reads BMP, GIF, JPEG "
                        f"and PNG files. Received: {file}")
            return (f"TensorFlow cannot read this image with {channels} channel(s) "
                    f"({why(e)}); convert the images to PNG, or give the network an "
                    f"H×W×3 input. Received: {file}")
    return f"cannot read the images: {why(error)}. Received: --data {path}"


# --- the split --------------------------------------------------------------------------

def split(name, x, y, names, seed, fraction, notes, where) -> Dataset:
    """Hold out `fraction` of each class, chosen by `seed`; masks, whose images hold
    several classes each, are not stratified: `fraction` of all the images."""
    rng = np.random.default_rng(seed)
    groups, share = ((y, "of each class") if y.ndim == 1 else
                     (np.zeros(len(y)), "of the images"))
    test = np.zeros(len(y), bool)
    for label in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == label))
        test[members[:int(len(members) * fraction + 0.5)]] = True  # halves round up
    if test.all() or not test.any():
        raise DataError(f"too few images to hold out {fraction:.0%} {share} for "
                        f"testing. Received: {len(y):,} images of {len(np.unique(y))} "
                        f"classes in {where}")
    return Dataset(name, x[~test], y[~test], x[test], y[test], names,
                   [*notes, (f"{test.sum():,} of {len(y):,} images held out for testing "
                            f"({fraction:.0%} {share}, seed {seed})")])


# --- adapting images to the input ---------------------------------------------------

def adapt(x: np.ndarray, shape: tuple,
          where: str = "the images") -> tuple[np.ndarray, list[str]]:
    """Images (N, H, W) or (N, H, W, C) made to fit an input of `shape`; `where` names
    them in messages."""
    if x.ndim == 3:
        x = x[..., None]
    if len(shape) == 1:
        if math.prod(x.shape[1:]) != shape[0]:
            raise DataError(f"the network takes vectors of {shape[0]} values; the images "
                            f"have {math.prod(x.shape[1:])}. Received: images "
                            f"{'×'.join(map(str, x.shape[1:]))} in {where}")
        return x.reshape(len(x), -1), ["images flattened to vectors"] if x.ndim > 2 else []
    if x.ndim != 4:
        raise DataError(f"images must be N×H×W or N×H×W×C arrays. Received: shape "
                        f"{x.shape} in {where}")
    x, channel_notes = adapt_channels(x, shape[2], where)
    x, size_notes = adapt_size(x, shape[:2])
    return x, channel_notes + size_notes


def adapt_channels(x: np.ndarray, channels: int,
                   where: str = "the images") -> tuple[np.ndarray, list[str]]:
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
                    f"{have} channels in {where}")


def adapt_size(x: np.ndarray, size: tuple) -> tuple[np.ndarray, list[str]]:
    """Smaller images: each pixel repeated k×k for the largest whole k that fits, then
    zero borders (LeCun et al. centred MNIST's 28×28 in 32×32 the same way); larger
    ones: resized, as image_dataset_from_directory would."""
    (h, w), (height, width) = x.shape[1:3], size
    if (h, w) == (height, width):
        return x, []
    if h > height or w > width:
        keras = import_keras()
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
