"""Median latency of one generator artifact at batch 1, measured in a fresh process.

Each measurement runs in its own process (`python -m c2fdan_tf.commands.latency`)
so that the thread count of every runtime (TensorFlow's included, which is fixed
at start-up) is exactly as asked. The kind "conv_reference" times a 3x3
convolution 112x112x64 -> 64 (batch 1) in TensorFlow with the same threads and
reports its GFLOP/s, the machine's roofline for the generator's dominant layer
(conv_reference_bf16: the same in bfloat16). keras_bf16 runs a `.keras`
checkpoint under the mixed_bfloat16 policy.
"""

import json
import os
import statistics
import subprocess
import sys
import time

KINDS = ("keras", "keras_bf16", "saved_model", "tflite", "onnx", "conv_reference", "conv_reference_bf16")
CONV_REFERENCE_FLOPS = 2 * 112 * 112 * 9 * 64 * 64


def _timed(call, warmup, runs):
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(kind, path, threads, runs=10, warmup=2):
    """{"median_ms"} of one batch-1 completion (and "gflops" for conv_reference)."""
    import numpy as np

    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; one of {', '.join(KINDS)}.")
    if kind in ("keras", "keras_bf16", "saved_model", "conv_reference", "conv_reference_bf16"):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if kind.startswith("conv_reference"):
        import tensorflow as tf

        dtype = tf.bfloat16 if kind.endswith("bf16") else tf.float32
        x = tf.cast(tf.random.uniform((1, 112, 112, 64)), dtype)
        kernel = tf.cast(tf.random.uniform((3, 3, 64, 64)), dtype)
        conv = tf.function(lambda: tf.nn.conv2d(x, kernel, 1, "SAME"))
        ms = _timed(lambda: conv().numpy(), 5, max(runs, 30))
        return {"median_ms": ms, "gflops": CONV_REFERENCE_FLOPS / (ms / 1000) / 1e9}
    from c2fdan_tf.inference.runners import load_runner

    runner = load_runner(path, num_threads=threads, precision="mixed_bfloat16" if kind == "keras_bf16" else "float32")
    image = np.random.default_rng(0).uniform(size=(1, 112, 112, 3)).astype(np.float32)
    return {"median_ms": _timed(lambda: runner(image), warmup, runs)}


def measure_in_subprocess(kind, path, threads, runs=10):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS=str(threads))
    result = subprocess.run(
        [sys.executable, "-m", "c2fdan_tf.commands.latency", f"--kind={kind}", f"--path={path}",
         f"--threads={threads}", f"--runs={runs}"],
        capture_output=True, text=True, env=env, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Latency of {kind} {path} failed: {result.stderr.strip().splitlines()[-1:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
