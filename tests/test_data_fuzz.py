"""Property: any mutation of a small valid data set (an .npz file, MNIST's IDX files, a
folder of class folders of images) either loads, as a data set that can be trained on,
or fails with a DataError; never another exception, as tests/test_fuzz.py asks of .arch
files.

CI runs 300 examples; set NNC_FUZZ_EXAMPLES=2000 for a long run."""
import gzip
import io
import os
import struct
import tempfile
import warnings

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nnc.errors import DataError
from nnc.experiments import data

IMAGES = np.random.default_rng(0).integers(0, 256, (12, 4, 4), dtype=np.uint8)
LABELS = np.arange(12) % 3
INPUTS = [(4, 4, 1), (8, 8, 3), (16,), (2, 2, 1)]
DTYPES = ["float16", "float32", "float64", "int8", "int64", "uint16", "uint64", "bool",
          "complex64", "U3", "object"]


# --- mutations of bytes and of arrays --------------------------------------------------

@st.composite
def byte_mutation(draw, blob: bytes) -> bytes:
    op = draw(st.sampled_from(["truncate", "flip", "flip_header", "garbage", "delete",
                               "duplicate"]))
    at = draw(st.integers(0, len(blob)))
    if op == "truncate":
        return blob[:at]
    if op in ("flip", "flip_header") and blob:
        i = draw(st.integers(0, min(len(blob), 64) - 1)) if op == "flip_header" else \
            min(at, len(blob) - 1)
        return blob[:i] + bytes([blob[i] ^ draw(st.integers(1, 255))]) + blob[i + 1:]
    if op == "garbage":
        return blob[:at] + draw(st.binary(min_size=1, max_size=16)) + blob[at:]
    end = draw(st.integers(at, min(len(blob), at + 64)))
    if op == "delete":
        return blob[:at] + blob[end:]
    return blob[:end] + blob[at:end] + blob[end:]  # duplicate


@st.composite
def array_mutation(draw, a: np.ndarray) -> np.ndarray:
    if a.dtype.kind not in "biufc":  # strings and objects stay as they are
        return a
    op = draw(st.sampled_from(["dtype", "reshape", "nan", "value", "count", "empty",
                               "scalar", "ragged", "column", "one_hot", "same"]))
    if op == "dtype":
        dtype = draw(st.sampled_from(DTYPES))
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # NaN cast to int, complex to real: so be it
            return a.astype(dtype) if dtype != "U3" else a.astype(str).astype(dtype)
    if op == "reshape":
        how = draw(st.sampled_from(["ravel", "add_axis", "drop_axis", "transpose",
                                    "channels", "square"]))
        if how == "ravel":
            return a.ravel()
        if how == "add_axis":
            return a[..., None]
        if how == "drop_axis":
            return a[..., 0] if a.ndim and a.shape[-1] else a
        if how == "transpose":
            return a.T
        if how == "channels":
            return np.repeat(a[..., None], draw(st.sampled_from([2, 3, 4, 5])), axis=-1)
        return a.reshape(len(a), -1) if a.ndim and a.size else a
    if op in ("nan", "value") and a.size:
        a = a.astype("float64") if op == "nan" or draw(st.booleans()) else a.copy()
        value = (draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e300])) if op == "nan"
                 else draw(st.one_of(st.integers(-5, 12), st.integers(-2**63, 2**63 - 1),
                                     st.floats(allow_nan=True, allow_infinity=True))))
        flat = a.reshape(-1)
        try:
            flat[draw(st.integers(0, a.size - 1))] = value
        except (OverflowError, ValueError):
            pass
        return a
    if op == "count" and a.ndim:
        return a[:draw(st.integers(0, len(a)))]
    if op == "empty":
        return a[:0] if a.ndim else a
    if op == "scalar":
        return np.array(draw(st.integers(-3, 3)))
    if op == "ragged":
        ragged = np.empty(2, object)
        ragged[:] = [np.zeros(3), np.zeros(4)]
        return ragged
    if op == "column":
        return a.reshape(len(a), 1) if a.ndim == 1 else a
    if op == "one_hot" and a.ndim == 1 and a.dtype.kind in "iu" and a.size and \
            0 <= a.min() <= a.max() < 50:
        return np.eye(int(a.max()) + 1, dtype=a.dtype)[a]
    if op == "same":
        return np.full_like(a, a.reshape(-1)[0]) if a.size else a
    return a


def npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@st.composite
def npz_files(draw) -> tuple[dict, str]:
    if draw(st.booleans()):
        arrays = {"x": IMAGES, "y": LABELS}
    else:
        arrays = {"x_train": IMAGES[:9], "y_train": LABELS[:9], "x_test": IMAGES[9:],
                  "y_test": LABELS[9:]}
    for _ in range(draw(st.integers(0, 3))):
        if not arrays:
            break
        key = draw(st.sampled_from(sorted(arrays)))
        if draw(st.integers(0, 9)) == 0:  # now and then a key goes missing or renamed
            value = arrays.pop(key)
            if draw(st.booleans()):
                arrays[draw(st.sampled_from(["X", "labels", "x_val", key + "s"]))] = value
        else:
            arrays[key] = draw(array_mutation(arrays[key]))
    blob = npz_bytes(arrays)
    if draw(st.integers(0, 3)) == 0:
        blob = draw(byte_mutation(blob))
    return {"d.npz": blob}, "d.npz"


# --- IDX files --------------------------------------------------------------------------

IDX_CODES = {"u1": 0x08, "b1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D,
             "f8": 0x0E}


def idx_bytes(a: np.ndarray) -> bytes:
    """An array in MNIST's format, in its own IDX type (or a 4-byte one)."""
    code = IDX_CODES.get(f"{a.dtype.kind}{a.dtype.itemsize}",
                         0x0D if a.dtype.kind == "f" else 0x0C)
    body = a.astype(np.dtype(data.IDX_TYPES[code])).tobytes()
    return bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + body


@st.composite
def idx_files(draw) -> tuple[dict, str]:
    arrays = {"train-images-idx3-ubyte": IMAGES[:9], "train-labels-idx1-ubyte": LABELS[:9]}
    if draw(st.booleans()):
        arrays.update({"t10k-images-idx3-ubyte": IMAGES[9:],
                       "t10k-labels-idx1-ubyte": LABELS[9:]})
    for _ in range(draw(st.integers(0, 2))):  # change the arrays, written correctly
        name = draw(st.sampled_from(sorted(arrays)))
        changed = draw(array_mutation(arrays[name]))
        if changed.dtype.kind in "iuf" and changed.dtype.itemsize <= 8:
            arrays[name] = changed
    files = {name: idx_bytes(a) for name, a in arrays.items()}
    for _ in range(draw(st.integers(0, 2))):  # or damage their bytes
        if not files:
            break
        name = draw(st.sampled_from(sorted(files)))
        if draw(st.integers(0, 5)) == 0:
            del files[name]
        else:
            files[name] = draw(byte_mutation(files[name]))
    if draw(st.booleans()):
        files = {name + ".gz": gzip.compress(blob, mtime=0) for name, blob in files.items()}
        if files and draw(st.booleans()):
            name = draw(st.sampled_from(sorted(files)))
            files[name] = draw(byte_mutation(files[name]))
    spec = "." if draw(st.booleans()) else "train-images-idx3-ubyte" + \
        (".gz" if any(n.endswith(".gz") for n in files) else "")
    return files, spec


# --- folders of images ------------------------------------------------------------------

def image_bytes(pixels: np.ndarray, form: str) -> bytes:
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=form)
    return buffer.getvalue()


@st.composite
def folder_files(draw) -> tuple[dict, str]:
    form = draw(st.sampled_from(["PNG", "JPEG", "BMP", "GIF"]))
    extension = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "GIF": ".gif"}[form]
    files = {f"images/{'abc'[c]}/{i}{extension}": image_bytes(IMAGES[3 * c + i], form)
             for c in range(3) for i in range(4 if c else 3)}
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["corrupt", "text", "delete", "drop_class",
                                   "extra_file", "nested", "hidden", "empty_class",
                                   "odd_image"]))
        images = sorted(n for n, blob in files.items() if blob is not None)
        name = draw(st.sampled_from(images)) if images else None
        if op == "corrupt" and name:
            files[name] = draw(byte_mutation(files[name]))
        elif op == "text" and name:
            files[name] = b"not an image\n"
        elif op == "delete" and name:
            del files[name]
        elif op == "drop_class":
            gone = draw(st.sampled_from("abc"))
            files = {n: b for n, b in files.items() if not n.startswith(f"images/{gone}/")}
        elif op == "extra_file":
            files["images/a/notes.txt"] = b"hello"
        elif op == "nested":
            files["images/b/more/9.png"] = image_bytes(IMAGES[0], "PNG")
        elif op == "hidden":
            files["images/.cache/0.png"] = b"junk"
        elif op == "empty_class":
            files["images/d/"] = None
        elif op == "odd_image":  # another mode or size, still a valid PNG
            from PIL import Image
            mode = draw(st.sampled_from(["RGBA", "I;16", "P", "LA", "1", "RGB"]))
            buffer = io.BytesIO()
            Image.new(mode, draw(st.sampled_from([(1, 1), (7, 3), (64, 64)]))).save(
                buffer, format="PNG")
            files["images/c/odd.png"] = buffer.getvalue()
    return files, "images"


# --- the property -----------------------------------------------------------------------

def write(files: dict, directory: str) -> None:
    for name, blob in files.items():
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if blob is not None:
            with open(path, "wb") as f:
                f.write(blob)
    os.makedirs(os.path.join(directory, "images"), exist_ok=True)


def check_trainable(d: data.Dataset, shape: tuple) -> None:
    """A data set that loads is one a network of this input can be trained on."""
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        assert len(x) == len(y) > 0 and x.shape[1:] == shape and x.dtype == np.float32
        assert np.isfinite(x).all()
        assert y.dtype == np.int64 and y.min() >= 0 and y.max() < len(d.class_names)
    assert len(np.unique(np.concatenate([d.y_train, d.y_test]))) >= 2


@settings(max_examples=int(os.environ.get("NNC_FUZZ_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=st.one_of(npz_files(), npz_files(), idx_files(), folder_files()),
       shape=st.sampled_from(INPUTS))
def test_mutated_data_loads_or_fails_with_a_data_error(case, shape):
    files, spec = case
    with tempfile.TemporaryDirectory() as directory:
        write(files, directory)
        try:
            loaded = data.load(os.path.join(directory, spec), shape)
        except DataError as e:
            assert "Received: " in e.message and "Traceback" not in e.message
            event(f"DataError: {e.message.split('. Received')[0][:50]}")
            return
        check_trainable(loaded, shape)
        event("loaded")
