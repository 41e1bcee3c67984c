"""Import TensorFlow and Keras once, quietly on machines without a GPU.

On a CPU-only machine TensorFlow's native code writes lines such as ``Could not find cuda
drivers``, ``failed call to cuInit: ... UNKNOWN ERROR (303)`` and absl's ``All log messages before
absl::InitializeLog()`` straight to file descriptor 2, before Python logging exists, so
``TF_CPP_MIN_LOG_LEVEL`` cannot silence them; in Jupyter they end up in executed notebooks. Here
the import and the device discovery run with descriptor 2 redirected to a temporary file; the
captured lines are written back afterwards, except these known GPU-probing lines when no GPU was
found. Where a GPU exists nothing is dropped and TensorFlow uses it as usual.

Use ``from sbrlib.core.tf import keras, tf`` instead of importing them directly.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_NOISE = re.compile(
    r"(All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|Could not find cuda drivers on your machine"
    r"|failed call to cuInit"
    r"|cpu_feature_guard\.cc"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT"
    r"|oneDNN custom operations are on)"  # informational (floating-point order may differ slightly); not a warning
)


@contextlib.contextmanager
def _capture_fd2():
    """Redirect file descriptor 2 into a temporary file; yield a list filled with its lines."""
    lines: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2 (embedded interpreters)
        yield lines
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(tmp.read().decode("utf-8", "replace").splitlines())


def _import():
    with _capture_fd2() as captured:
        import keras
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")  # device discovery (cuInit) happens here
    kept = captured if gpus else [line for line in captured if not _NOISE.search(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
    return tf, keras, bool(gpus)


tf, keras, HAS_GPU = _import()

__all__ = ["HAS_GPU", "keras", "tf"]
