#!/usr/bin/env bash
# ResNet-50 training steps on a lent accelerator: nnc's model against
# keras.applications.ResNet50 (benchmarks/gpu.py). The lent machines reach no network
# and have no TensorFlow, but have JAX, PyTorch, NumPy, networkx and PyYAML; Keras, its
# small dependencies, lark and nnc itself travel as wheels in .whl/.
#
#   benchmarks/gpu.sh fetch          here, with PyPI: fill .whl/ (nnc's wheel is built
#                                    from this checkout; the others are the versions
#                                    installed in .venv, for the device's Python)
#   bash benchmarks/gpu.sh [ARGS]    there: install .whl/ into /tmp/site and run
#                                    benchmarks/gpu.py ARGS under JAX, or under PyTorch
#                                    if the JAX run fails (KERAS_BACKEND picks one)
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.whl
HERE_PYTHON=${HERE_PYTHON:-.venv/bin/python}  # the project's environment, here
DEVICE_PYTHON_VERSION=${DEVICE_PYTHON_VERSION:-3.12}
CARRIED="keras namex optree lark"  # what the device's image lacks (KINDS.md's list)

if [ "${1:-}" = fetch ]; then
    rm -rf "$WHEELS" && mkdir -p "$WHEELS"
    "$HERE_PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w "$WHEELS" .
    pins=$("$HERE_PYTHON" -c "import importlib.metadata as m, sys
print(' '.join(f'{p}=={m.version(p)}' for p in sys.argv[1:]))" $CARRIED)
    "$HERE_PYTHON" -m pip download -q --no-deps --only-binary=:all: \
        --python-version "$DEVICE_PYTHON_VERSION" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$WHEELS" $pins
    ls "$WHEELS"
    exit 0
fi

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
log=${OUT:-/tmp}/gpu-log.txt
if [ -n "${KERAS_BACKEND:-}" ]; then
    python3 benchmarks/gpu.py "$@" 2>&1 | tee "$log"
else
    KERAS_BACKEND=jax python3 benchmarks/gpu.py "$@" 2>&1 | tee "$log" || {
        echo "the JAX run failed; running under PyTorch instead"
        KERAS_BACKEND=torch python3 benchmarks/gpu.py "$@" 2>&1 | tee -a "$log"
    }
fi
