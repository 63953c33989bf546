"""Data throughput on this machine: prints images/s for each stage.

    python benchmarks/data_throughput.py [--seconds=10] [--batch_size=64]

1. synthetic-face rendering (NumPy, 1 and all threads; new identities, 16 images each, as the cache renders them),
2. the occlusion step alone (parameters + masks + Eq. 1 on a cached batch), for the
   paper's occluders, each wild family alone, and the `small` preset's mix (its face texture too),
3. the full training pipeline from cached faces (shuffle, batch, occlude, prefetch), with
   the paper's occluders and with the mix (the target: >= 2,000 occluded images/s).
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from c2fdan_tf.data.face_sources import InMemoryFaces, render_synthetic_split  # noqa: E402
from c2fdan_tf.data.occluders.families import WILD_FAMILIES, training_occluders  # noqa: E402
from c2fdan_tf.training.config import preset  # noqa: E402
from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer  # noqa: E402
from c2fdan_tf.data.pipelines import training_dataset  # noqa: E402

_SECONDS = flags.DEFINE_float("seconds", 8.0, "Measuring time per stage.")
_BATCH = flags.DEFINE_integer("batch_size", 64, "Batch size of the pipelines.")


def rate(step, images_per_call, seconds):
    step()  # warm-up (graph tracing, caches)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        calls += 1
    return calls * images_per_call / (time.perf_counter() - start)


def main(argv):
    del argv
    seconds, batch = _SECONDS.value, _BATCH.value
    cores = os.cpu_count()
    print(f"command: python benchmarks/data_throughput.py --seconds={seconds} --batch_size={batch}")
    print(f"machine: {cores} CPU cores, TensorFlow {tf.__version__}")
    results = {}
    # Every call renders identities never rendered before in this process (a new seed): the renderer
    # keeps each identity's textures (lru_cache), so repeating the same ones would time a warm cache.
    seeds = iter(range(1000, 10**6))
    for workers in sorted({1, cores}):
        results[f"synthetic-face rendering (new identities, 16 images each), {workers} thread(s)"] = rate(
            lambda w=workers: render_synthetic_split(next(seeds), "train", 16, 16, workers=w), 256, seconds
        )
    faces, labels = render_synthetic_split(0, "train", 256, 8)
    source = InMemoryFaces(faces, labels)
    synthesizer = OcclusionSynthesizer()
    cached = tf.constant(faces[:batch])
    counter = tf.Variable(0, dtype=tf.int64)

    small = preset("small").data  # the wild mix, half the clean faces textured
    mixes = {"paper": synthesizer, **{name: training_occluders(name) for name in WILD_FAMILIES},
             "small preset's mix": training_occluders(small.occluders, face_texture=small.face_texture)}
    for name, occluders in mixes.items():
        step = tf.function(lambda occluders=occluders: tf.reduce_sum(occluders.training_batch(
            cached, 0, counter.assign_add(batch) + tf.range(batch, dtype=tf.int64))["occluded"][:, 0, 0, 0]))
        results[f"occlusion step alone, {name}"] = rate(lambda step=step: step().numpy(), batch, seconds)
    for name in ("paper", "small preset's mix"):
        iterator = iter(training_dataset(source, mixes[name], batch, seed=0))
        results[f"full training pipeline from cached faces, {name}"] = rate(lambda: next(iterator), batch, seconds)
    width = max(len(name) for name in results)
    for name, value in results.items():
        print(f"{name:<{width}}  {value:9.0f} images/s")


if __name__ == "__main__":
    app.run(main)
