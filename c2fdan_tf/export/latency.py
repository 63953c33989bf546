"""Median latency of one artifact at batch 1, measured in a fresh process.

    python -m c2fdan_tf.export.latency --kind=tflite --path=c2fdan_fp32.tflite --threads=2

Each measurement runs in its own process so that the thread count of every
runtime (TensorFlow's included, which is fixed at start-up) is exactly as asked.
Prints one JSON line: {"kind", "threads", "median_ms", "runs"}. The kind
"conv_reference" times a 3x3 convolution 112x112x64 -> 64 (batch 1) in
TensorFlow with the same threads and reports its GFLOP/s, the machine's
roofline for the generator's dominant layer.
"""

import json
import os
import statistics
import subprocess
import sys
import time

KINDS = ("keras", "saved_model", "tflite", "onnx", "conv_reference")


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
    import numpy as np

    image = np.random.default_rng(0).uniform(size=(1, 112, 112, 3)).astype(np.float32)
    if kind in ("keras", "saved_model", "conv_reference"):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if kind == "keras":
        import tensorflow as tf

        from c2fdan_tf.models.checkpoints import load_generator

        generator = load_generator(path)
        run = tf.function(lambda x: generator(x, training=False)["completed"])
        x = tf.constant(image)
        return {"median_ms": _timed(lambda: run(x).numpy(), warmup, runs)}
    if kind == "saved_model":
        import tensorflow as tf

        signature = tf.saved_model.load(path).signatures["serving_default"]
        x = tf.constant(image)
        return {"median_ms": _timed(lambda: signature(image=x)["completed"].numpy(), warmup, runs)}
    if kind == "tflite":
        from c2fdan_tf.export.tflite import TFLiteRunner

        runner = TFLiteRunner(model_path=path, num_threads=threads)
        return {"median_ms": _timed(lambda: runner(image=image), warmup, runs)}
    if kind == "onnx":
        from c2fdan_tf.export.onnx_export import OnnxRunner

        runner = OnnxRunner(path, num_threads=threads)
        return {"median_ms": _timed(lambda: runner(image), warmup, runs)}
    if kind == "conv_reference":
        import tensorflow as tf

        x = tf.random.uniform((1, 112, 112, 64))
        kernel = tf.random.uniform((3, 3, 64, 64))
        conv = tf.function(lambda: tf.nn.conv2d(x, kernel, 1, "SAME"))
        ms = _timed(lambda: conv().numpy(), 5, max(runs, 30))
        return {"median_ms": ms, "gflops": 2 * 112 * 112 * 9 * 64 * 64 / (ms / 1000) / 1e9}
    raise ValueError(f"Unknown kind {kind!r}; one of {', '.join(KINDS)}.")


def measure_in_subprocess(kind, path, threads, runs=10):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS=str(threads))
    result = subprocess.run(
        [sys.executable, "-m", "c2fdan_tf.export.latency", f"--kind={kind}", f"--path={path}",
         f"--threads={threads}", f"--runs={runs}"],
        capture_output=True, text=True, env=env, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Latency of {kind} {path} failed: {result.stderr.strip().splitlines()[-1:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv):
    from absl import flags

    del argv
    f = flags.FLAGS
    result = measure(f.kind, f.path, f.threads, f.runs)
    print(json.dumps({"kind": f.kind, "threads": f.threads, "runs": f.runs, **result}))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from absl import app, flags

    flags.DEFINE_enum("kind", None, KINDS, "What to time.")
    flags.DEFINE_string("path", "", "The artifact (file or folder).")
    flags.DEFINE_integer("threads", 1, "Threads of the runtime.")
    flags.DEFINE_integer("runs", 10, "Timed runs (after warm-up).")
    flags.mark_flag_as_required("kind")
    app.run(main)
