"""Stage-2 (full GAN) training throughput and its fraction of this machine's conv speed.

    python benchmarks/training_throughput.py [--widths=64,16] [--jit=both] [--steps=3]

For each width: the whole C2FDAN train step (generator forward/backward, the
seven discriminators' update, the frozen extractor for the identity losses) on a
fixed batch of 8, with and without XLA. The step's FLOPs are counted by
TensorFlow's graph profiler (forward and backward convolutions and matmuls), and
compared with a plain 3x3 convolution (112x112x64 -> 64, batch 8) timed in the
same run.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from tensorflow.python.util import deprecation  # noqa: E402

from c2fdan_tf.models import Discriminators, FaceFeatureExtractor, Generator  # noqa: E402
from c2fdan_tf.training.c2fdan import C2FDAN  # noqa: E402
from c2fdan_tf.training.config import preset  # noqa: E402

_WIDTHS = flags.DEFINE_list("widths", ["64", "16"], "Generator widths (64 = paper, 16 = small preset).")
_JIT = flags.DEFINE_enum("jit", "both", ["both", "on", "off"], "XLA compilation of the step.")
_STEPS = flags.DEFINE_integer("steps", 3, "Timed steps (after one warm-up step).")
_BATCH = flags.DEFINE_integer("batch_size", 8, "Batch size.")


def conv_throughput(batch, repeats=20):
    """GFLOP/s of a 3x3 conv 112x112x64 -> 64 (the generator's most common layer)."""
    x = tf.random.uniform((batch, 112, 112, 64))
    kernel = tf.random.uniform((3, 3, 64, 64))
    conv = tf.function(lambda: tf.nn.conv2d(x, kernel, 1, "SAME"))
    conv().numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        conv().numpy()
    seconds = (time.perf_counter() - start) / repeats
    return 2 * batch * 112 * 112 * 9 * 64 * 64 / seconds / 1e9


def build_model(width, jit):
    keras.utils.set_random_seed(0)
    config = preset("paper" if width >= 64 else "small")
    extractor = FaceFeatureExtractor(
        1000, config.model.extractor_architecture, width=config.model.extractor_width,
        blocks_per_stage=config.model.extractor_blocks
    )
    model = C2FDAN(Generator(width=width), "full", Discriminators(config.model.discriminator_width), extractor)
    model.compile(
        keras.optimizers.Adam(1e-4),
        pretrained_optimizer=keras.optimizers.Adam(5e-5),
        discriminator_optimizer=keras.optimizers.Adam(1e-4),
        jit_compile=jit,
    )
    return model, config


def step_flops(model, batch):
    spec = {k: tf.TensorSpec(v.shape, v.dtype) for k, v in batch.items()}
    graph = tf.function(model.train_step).get_concrete_function(spec).graph
    with deprecation.silence():
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops


def main(argv):
    del argv
    batch_size, steps = _BATCH.value, _STEPS.value
    jits = {"both": [False, True], "on": [True], "off": [False]}[_JIT.value]
    print(
        f"command: python benchmarks/training_throughput.py --widths={','.join(_WIDTHS.value)} "
        f"--jit={_JIT.value} --steps={steps} --batch_size={batch_size}"
    )
    reference = conv_throughput(batch_size)
    print(f"machine: {os.cpu_count()} cores; 3x3 conv 112x112x64->64, batch {batch_size}: {reference:.0f} GFLOP/s")
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(batch_size, 112, 112, 3)).astype(np.float32)
    mask = (rng.uniform(size=(batch_size, 112, 112, 1)) > 0.85).astype(np.float32)
    batch = {
        "occluded": tf.constant(images * (1 - mask)),
        "mask": tf.constant(mask),
        "ground_truth": tf.constant(images),
    }
    data = tf.data.Dataset.from_tensors(batch).repeat()
    rows = []
    for width in (int(w) for w in _WIDTHS.value):
        flops = None
        for jit in jits:
            model, config = build_model(width, jit)
            model(batch["occluded"][:1])
            if flops is None:
                flops = step_flops(model, batch)
            start = time.perf_counter()
            model.fit(data, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)  # traces (and compiles) the step
            warmup = time.perf_counter() - start
            start = time.perf_counter()
            model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
            seconds = (time.perf_counter() - start) / steps
            achieved = flops / seconds / 1e9
            rows.append((width, config.model.extractor_architecture, jit, batch_size / seconds, flops / 1e9,
                         achieved, achieved / reference, warmup))
    print("| width | extractor | XLA | images/s | GFLOP/step | GFLOP/s | of conv peak | first step (s) |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    for width, arch, jit, ips, gflop, achieved, fraction, warmup in rows:
        print(f"| {width} | {arch} | {'on' if jit else 'off'} | {ips:.2f} | {gflop:.0f} | {achieved:.0f} "
              f"| {fraction:.0%} | {warmup:.0f} |")


if __name__ == "__main__":
    app.run(main)
