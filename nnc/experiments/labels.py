"""The labels of a data set, checked: one class number per image for a network whose
output is a class vector, or a mask of class numbers per image for a network whose
output is a map of per-pixel classes, H'×W'×K (U-Net).

A mask must be of the output's H'×W', or of the input's H×W: then its centre is cut
out, because a network of valid convolutions maps a tile to the centre of the tile
(Ronneberger et al. 2015, Figure 2: "segmentation of the yellow area uses input data of
the blue area"). The images of per-pixel data must be of the input's size already, since
resizing or padding them would move them off their masks.

Every mistake is a DataError that names the array and gives its numbers, as data.py's
are; each accepted oddity (N×1 labels, one-hot rows, whole numbers stored as floats,
masks of the input's size) is a note.
"""
from __future__ import annotations

import numpy as np

from nnc.errors import DataError
from nnc.wording import dims

MAX_CLASSES = 100_000  # labels at or above are refused before a list of names is made


def per_pixel(output_shape: tuple | None) -> bool:
    """Whether a network's output is a map of class scores (H'×W'×K), not a vector."""
    return output_shape is not None and len(output_shape) == 3


def check_labels(y: np.ndarray, where: str, x: np.ndarray,
                 x_where: str) -> tuple[np.ndarray, list[str]]:
    """Class numbers 0, 1, 2, … one per image: an N or N×1 array (the layout of
    keras.datasets.cifar10), or one-hot rows; whole numbers stored as floats pass."""
    notes, shape = [], y.shape
    if y.ndim == 2 and shape[1] == 1:
        y = y[:, 0]
        notes.append(f"labels of shape {shape} flattened to ({shape[0]},)")
    elif y.ndim == 2 and y.dtype.kind in "biuf" and one_hot(y):
        y = y.argmax(axis=1)
        notes.append(f"one-hot labels of shape {shape} read as class numbers")
    if y.ndim != 1:
        masks = (" (a mask per image needs a network whose output is a map, H×W×K)"
                 if y.ndim == 3 else "")
        raise DataError(f"labels must be one class number per image, an array of shape "
                        f"(N,) or (N, 1), or one-hot rows{masks}. Received: {where} of "
                        f"shape {shape}")
    check_count(len(y), shape, where, x, x_where, "label")
    y, number_notes = class_numbers(y, where, "labels")
    return y, notes + number_notes


def check_masks(y: np.ndarray, where: str, x: np.ndarray, x_where: str,
                input_shape: tuple, output_shape: tuple) -> tuple[np.ndarray, list[str]]:
    """Per-pixel class numbers, N×H'×W' (or N×H'×W'×1), of the output's size or of the
    input's, whose centre is then taken; the images must be of the input's size."""
    notes, shape = [], y.shape
    if y.ndim == 4 and shape[3] == 1:
        y = y[..., 0]
        notes.append(f"masks of shape {shape} read as {dims(y.shape[1:])} masks")
    if y.ndim != 3:
        raise DataError(f"the network's output is a map of {output_shape[2]} classes per "
                        f"pixel, so the labels must be masks, an N×H×W array of class "
                        f"numbers. Received: {where} of shape {shape}")
    check_count(len(y), shape, where, x, x_where, "mask")
    y, number_notes = class_numbers(y, where, "mask pixels")  # as in the file: uncropped
    tile, out = tuple(input_shape[:2]), tuple(output_shape[:2])
    if tuple(x.shape[1:3]) != tile:
        raise DataError(f"per-pixel data is not resized, as that would move the images "
                        f"off their masks: the images must be of the network's input "
                        f"size, {dims(tile)}. Received: {x_where} of shape {x.shape}")
    croppable = tile != out and all(o <= t for o, t in zip(out, tile))
    if croppable and y.shape[1:] == tile:
        y = centre(y, out)
        notes.append(f"masks of the input's size {dims(tile)} cropped to their centre "
                     f"{dims(out)}, the output's size (the output map is the centre of "
                     f"the tile)")
    elif y.shape[1:] != out:
        also = f", or the input's {dims(tile)} (cropped to their centre)" if croppable else ""
        raise DataError(f"masks must be of the network's output size {dims(out)}{also}. "
                        f"Received: {where} of shape {shape}")
    return y, notes + number_notes


def centre(masks: np.ndarray, size: tuple) -> np.ndarray:
    """The central size[0]×size[1] of each mask; an odd margin leaves its extra pixel
    at the bottom and the right."""
    top, left = ((have - want) // 2 for have, want in zip(masks.shape[1:3], size))
    return masks[:, top:top + size[0], left:left + size[1]]


def check_count(count: int, shape: tuple, where: str, x: np.ndarray, x_where: str,
                noun: str) -> None:
    """One label or mask per image; `shape` is the labels' shape as in the file."""
    if count != len(x):
        raise DataError(f"there must be one {noun} per image. Received: {len(x):,} images "
                        f"({x_where} of shape {x.shape}) and {count:,} {noun}s ({where} "
                        f"of shape {shape})")


def class_numbers(y: np.ndarray, where: str, noun: str) -> tuple[np.ndarray, list[str]]:
    """`y` as int64 class numbers 0, 1, 2, …: whole numbers, of an integer type or
    stored as floats; `noun` says what they are (labels, mask pixels) in messages."""
    notes = []
    if y.dtype.kind == "f":
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            first = int(np.flatnonzero(~whole)[0])
            raise DataError(f"{noun} must be whole numbers. Received: {(~whole).sum():,} "
                            f"of {y.size:,} {noun} in {where} are not, the first "
                            f"{y.flat[first]} at index {index(y, first)}")
        notes.append(f"{noun} stored as {y.dtype} read as whole numbers")
    elif y.dtype.kind not in "iu":  # bool: true/false is no class number
        raise DataError(f"{noun} must be class numbers 0, 1, 2, … (integers). Received: "
                        f"{where} of type {y.dtype}")
    if y.min() < 0:
        raise DataError(f"{noun} must be class numbers from 0. Received: {(y < 0).sum():,} "
                        f"of {y.size:,} {noun} in {where} are negative, the least {y.min()}")
    if int(y.max()) >= MAX_CLASSES:
        raise DataError(f"{noun} must be class numbers below {MAX_CLASSES:,}. Received: "
                        f"a label {y.max()} in {where}")
    return y.astype("int64"), notes


def index(y: np.ndarray, flat: int):
    """A position in `y` as numpy writes it: 7, or (image, row, column) in a mask."""
    if y.ndim == 1:
        return flat
    return tuple(int(i) for i in np.unravel_index(flat, y.shape))


def one_hot(y: np.ndarray) -> bool:
    return bool(((y == 0) | (y == 1)).all() and (y.sum(axis=1) == 1).all())
