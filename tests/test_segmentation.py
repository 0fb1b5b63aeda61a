"""`nnc train` and `nnc eval` for a network whose output is a map of per-pixel classes,
U-Net's kind: a tiny U-Net of valid convolutions learns which pixels of synthetic
images belong to bright squares, from masks of the input's size that nnc crops to the
output's centre. The mask mistakes are refused with status 2, and `nnc lesion`, which
measures classifiers, refuses such a model."""
from __future__ import annotations

import json
import re

import keras
import numpy as np
import pytest
from conftest import run_nnc

import nnc  # noqa: F401  (registers nnc's Keras layers for load_model)
from nnc.errors import DataError
from nnc.experiments import data

# Two levels of the U: 44 → conv3 ×2 → 40 (down1) → pool 20 → conv3 ×2 → 16 → upconv2
# 32, beside down1 cropped from 40 to 32 → conv3 ×2 → 28 → conv1-2: a 28×28 map of 2
# classes, the centre of the 44×44 tile (a margin of 8 pixels all round).
TINY_UNET = """\
network tinyunet
input 44x44x1
default conv(activation=relu, padding=valid)
default skip(crop=true)
down1:    conv3-4 x2
down2:    maxpool, conv3-8 x2
up1:      upconv2-4, skip(down1), conv3-4 x2
classes:  conv1-2(activation=none)
expect classes.output = 28x28x2
"""
TILE, OUT, MARGIN = 44, 28, 8
INPUT, OUTPUT = (TILE, TILE, 1), (OUT, OUT, 2)


def squares(n=96, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Grey noise (0–0.4) with one to three squares 0.6 brighter; the mask is 1 on the
    squares' pixels and 0 elsewhere, at the tile's size."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.4, (n, TILE, TILE)).astype("float32")
    y = np.zeros((n, TILE, TILE), "uint8")
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            side = rng.integers(6, 14)
            top, left = rng.integers(0, TILE - side, 2)
            x[i, top:top + side, left:left + side] += 0.6
            y[i, top:top + side, left:left + side] = 1
    return x, y


def centres(masks: np.ndarray) -> np.ndarray:
    return masks[:, MARGIN:MARGIN + OUT, MARGIN:MARGIN + OUT]


def write(directory, name="seg.npz", **arrays) -> str:
    np.savez(directory / name, **arrays)
    return str(directory / name)


# --- the data (no training) --------------------------------------------------------------

def test_masks_of_the_input_size_are_cropped_to_the_centre_and_split_unstratified(tmp_path):
    x, y = squares(40)
    x[:, 0, 0] = np.arange(40)  # a corner pixel says which image it is
    d = data.load(write(tmp_path, x=x, y=y), INPUT, output_shape=OUTPUT)
    assert ("masks of the input's size 44×44 cropped to their centre 28×28, the "
            "output's size (the output map is the centre of the tile)") in d.notes
    assert "10 of 40 images held out for testing (25% of the images, seed 0)" in d.notes
    images, masks = d.split("all")
    assert masks.shape == (40, OUT, OUT) and masks.dtype == np.int64
    for image, mask in zip(images, masks):
        np.testing.assert_array_equal(mask, centres(y)[int(image[0, 0, 0])])


def test_masks_of_the_output_size_are_taken_as_they_are(tmp_path):
    x, y = squares(40)
    d = data.load(write(tmp_path, x=x, y=centres(y)[..., None]), INPUT, output_shape=OUTPUT)
    assert not any("cropped" in n for n in d.notes)
    assert "masks of shape (40, 28, 28, 1) read as 28×28 masks" in d.notes
    assert sorted(map(bytes, d.split("all")[1].astype("uint8"))) == \
        sorted(map(bytes, centres(y)))


X, Y = squares(40)
MASK_MISTAKES = [
    # (id, arrays, words of the message)
    ("masks of neither size", dict(x=X, y=Y[:, :30, :30]),
     ["output size 28×28, or the input's 44×44", "y in", "shape (40, 30, 30)"]),
    ("a class beyond the output's", dict(x=X, y=Y * 2),
     ["labels up to 2", "2 outputs (classes 0–1)"]),
    ("masks not whole numbers", dict(x=X, y=Y + 0.5),
     ["mask pixels must be whole numbers", "77,440 of 77,440", "at index (0, 0, 0)"]),
    ("masks true and false", dict(x=X, y=Y == 1),
     ["mask pixels must be class numbers 0, 1, 2", "of type bool"]),
    ("negative classes", dict(x=X, y=Y.astype("int8") - 1),
     ["mask pixels must be class numbers from 0", "negative, the least -1"]),
    ("a label per image", dict(x=X, y=np.arange(40) % 2),
     ["map of 2 classes per pixel", "must be masks", "shape (40,)"]),
    ("fewer masks than images", dict(x=X, y=Y[:30]),
     ["one mask per image", "40 images", "30 masks"]),
    ("images of another size", dict(x=X[:, :40, :40], y=centres(Y)),
     ["not resized", "input size, 44×44", "x in", "shape (40, 40, 40)"]),
    ("one class only", dict(x=X, y=np.zeros_like(Y)),
     ["at least 2 classes", "all pixels of the 40 images are of class '0'"]),
]


@pytest.mark.parametrize("arrays, words", [case[1:] for case in MASK_MISTAKES],
                         ids=[case[0] for case in MASK_MISTAKES])
def test_a_mask_mistake_is_one_data_error(tmp_path, arrays, words):
    with pytest.raises(DataError) as info:
        data.load(write(tmp_path, **arrays), INPUT, output_shape=OUTPUT)
    message = info.value.message
    assert "Received: " in message
    assert all(word in message for word in words), message


def test_data_without_masks_is_refused_for_a_map_output():
    with pytest.raises(DataError, match="an .npz file of images x and masks y; 'digits'"):
        data.load("digits", INPUT, output_shape=OUTPUT)


@pytest.mark.parametrize("masks, words", [
    (Y[:, :30, :30], ["masks must be of the network's output size 28×28", "(40, 30, 30)"]),
    (Y * 2, ["labels up to 2, but the network has 2 outputs"]),
], ids=["mask size", "label beyond K"])
def test_train_refuses_a_mask_mistake_with_status_2(tmp_path, masks, words):
    (tmp_path / "tinyunet.arch").write_text(TINY_UNET)
    result = run_nnc("train", str(tmp_path / "tinyunet.arch"), "--data",
                     write(tmp_path, x=X, y=masks), "-o", str(tmp_path / "m.keras"))
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert all(word in result.stderr for word in words), result.stderr
    assert not (tmp_path / "m.keras").exists()


# --- training, evaluation and the commands that refuse a map --------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("segment")
    (directory / "tinyunet.arch").write_text(TINY_UNET)
    x, y = squares(96)
    spec = write(directory, x=x, y=y)
    result = run_nnc("train", str(directory / "tinyunet.arch"), "--data", spec,
                     "--epochs", "8", "--lr", "0.01", "--batch", "16",
                     "-o", str(directory / "m.keras"), timeout=300)
    return directory / "m.keras", spec, y, result


def majority_share(masks: np.ndarray) -> float:
    """The pixel accuracy of calling every pixel the commoner class."""
    return max(masks.mean(), 1 - masks.mean())


@pytest.mark.slow
def test_training_lowers_the_loss_and_beats_the_majority_class(trained):
    path, _, y, result = trained
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cropped to their centre 28×28" in result.stderr
    assert "pixel error on the held-out images" in result.stdout
    losses = [float(v) for v in re.findall(r" - loss: ([\d.]+)", result.stdout)]
    accuracies = [float(v) for v in re.findall(r"val_pixel_accuracy: ([\d.]+)", result.stdout)]
    assert len(losses) == len(accuracies) == 8, result.stdout
    assert losses[-1] < losses[0] / 2
    assert accuracies[-1] > majority_share(centres(y)) + 0.05


@pytest.mark.slow
def test_eval_agrees_with_numpy_on_the_models_own_predictions(trained):
    path, spec, y, _ = trained
    result = run_nnc("eval", str(path), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    x, masks = data.load(spec, INPUT, output_shape=OUTPUT).split("test")
    logits = keras.models.load_model(path).predict(x, verbose=0)
    predicted = logits.argmax(-1)
    shifted = logits - logits.max(-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    truth = np.take_along_axis(log_p, masks[..., None], -1)
    ious = [((predicted == k) & (masks == k)).sum() / ((predicted == k) | (masks == k)).sum()
            for k in (0, 1)]
    assert figures["images"] == len(x) == 24 and figures["pixels"] == 24 * OUT * OUT
    assert figures["loss"] == pytest.approx(-truth.mean(), rel=1e-4)
    assert figures["pixel_accuracy"] == pytest.approx((predicted == masks).mean())
    assert figures["pixel_error"] == pytest.approx(1 - figures["pixel_accuracy"])
    assert figures["class_iou"] == pytest.approx(ious)
    assert figures["mean_iou"] == pytest.approx(np.mean(ious))
    assert figures["pixel_accuracy"] > majority_share(centres(y)) + 0.05
    assert "top5_error" not in figures and "accuracy" not in figures


@pytest.mark.slow
def test_eval_prints_the_pixel_scores(trained):
    result = run_nnc("eval", str(trained[0]))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tinyunet on" in result.stdout and "(test split, 24 images, 18,816 pixels)" \
        in result.stdout
    for name in ("loss", "pixel accuracy", "pixel error", "mean IoU"):
        assert f"  {name} " in result.stdout
    assert "top-5" not in result.stdout


@pytest.mark.slow
def test_lesion_and_data_without_masks_are_refused(trained):
    lesion = run_nnc("lesion", str(trained[0]))
    assert lesion.returncode == 2 and "Traceback" not in lesion.stderr
    assert "nnc lesion measures a classifier's error" in lesion.stderr
    assert "map of per-pixel classes (28×28×2)" in lesion.stderr
    digits = run_nnc("eval", str(trained[0]), "--data", "digits")
    assert digits.returncode == 2 and "masks y; 'digits'" in digits.stderr


@pytest.mark.slow
def test_augmentation_is_refused_as_it_would_move_images_off_their_masks(tmp_path):
    (tmp_path / "tinyunet.arch").write_text(TINY_UNET)
    (tmp_path / "r.yaml").write_text("augmentation: {flip: true, translate: 0.1}\n")
    result = run_nnc("train", str(tmp_path / "tinyunet.arch"), "--data",
                     write(tmp_path, x=X, y=Y), "--recipe", str(tmp_path / "r.yaml"),
                     "-o", str(tmp_path / "m.keras"), timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "augmentation moves the images but not their masks" in result.stderr
    assert "Received: flip: true, translate: 0.1" in result.stderr
