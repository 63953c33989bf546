"""MegaFace-scale identification: ~3,500 queries against up to 1,000,000 distractors.

    python benchmarks/identification_scale.py [--queries=3500] [--distractors=1000000] [--chunk=8192]

Embeddings are random unit vectors (256-d), generated chunk by chunk like an
embedding stream. Prints the streaming time, the peak resident memory and the
achieved GFLOP/s of the score matmuls against a plain matrix product of the same
shape timed in the same run.
"""

import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from c2fdan_tf.evaluation.identification import DEFAULT_DISTRACTOR_COUNTS, stream_top_k  # noqa: E402

_QUERIES = flags.DEFINE_integer("queries", 3500, "Probe embeddings.")
_DISTRACTORS = flags.DEFINE_integer("distractors", 1_000_000, "Distractor embeddings.")
_CHUNK = flags.DEFINE_integer("chunk", 8192, "Distractors per chunk.")
_DIM = 256


def unit_vectors(rng, n):
    x = rng.standard_normal((n, _DIM), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main(argv):
    del argv
    q, d, chunk = _QUERIES.value, _DISTRACTORS.value, _CHUNK.value
    print(f"command: python benchmarks/identification_scale.py --queries={q} --distractors={d} --chunk={chunk}")
    queries = unit_vectors(np.random.default_rng(0), q)
    chunks = [unit_vectors(np.random.default_rng(1), chunk) for _ in range(3)]

    # Plain matmul of one chunk, same shapes, for reference.
    a, b = tf.constant(queries), tf.constant(chunks[0])
    matmul = tf.function(lambda: tf.matmul(a, b, transpose_b=True))
    matmul().numpy()
    start = time.perf_counter()
    for _ in range(10):
        matmul().numpy()
    plain = 2 * q * chunk * _DIM / ((time.perf_counter() - start) / 10) / 1e9

    def stream():  # embeddings arriving chunk by chunk (pre-generated, recycled)
        for i in range(0, d, chunk):
            yield chunks[(i // chunk) % len(chunks)][: min(chunk, d - i)]

    counts = [c for c in DEFAULT_DISTRACTOR_COUNTS if c <= d]
    start = time.perf_counter()
    snapshots = stream_top_k(queries, stream(), counts, k=10)
    seconds = time.perf_counter() - start
    achieved = 2 * q * d * _DIM / seconds / 1e9
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"distractor counts: {sorted(snapshots)}")
    print(f"{q} queries x {d:,} distractors: {seconds:.1f} s, peak resident memory {peak:.0f} MB")
    print(f"score matmuls + top-10: {achieved:.0f} GFLOP/s; plain matmul of one chunk: {plain:.0f} GFLOP/s "
          f"({achieved / plain:.0%})")


if __name__ == "__main__":
    app.run(main)
