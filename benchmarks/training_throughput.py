"""Stage-2 (full GAN) training throughput in float32 and bfloat16, side by side.

    python benchmarks/training_throughput.py [--widths=16,32,64] [--precisions=float32,mixed_bfloat16]
                                             [--jit=off] [--steps=3]

For each width and precision: the whole C2FDAN train step (generator forward and
backward, the seven discriminators' update, the frozen extractor for the identity
losses) on a fixed batch of 8, with and/or without XLA. The step's FLOPs are
counted by TensorFlow's graph profiler; they are compared with a plain 3x3
convolution (112x112x64 -> 64, batch 8) timed in float32 and in bfloat16 in the
same run: "of bf16 peak" is the fraction of the bfloat16 convolution's speed, the
machine's real peak where the CPU has AMX-BF16. The last column is the step's
speed-up over float32 at the same width.
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
from c2fdan_tf.precision import cpu_flags, policy_scope  # noqa: E402
from c2fdan_tf.training.c2fdan import C2FDAN  # noqa: E402
from c2fdan_tf.training.config import preset  # noqa: E402

_WIDTHS = flags.DEFINE_list("widths", ["16", "32", "64"], "Generator widths (64 = paper, 16 = small preset).")
_PRECISIONS = flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Dtype policies to compare.")
_JIT = flags.DEFINE_enum("jit", "off", ["both", "on", "off"], "XLA compilation of the step.")
_STEPS = flags.DEFINE_integer("steps", 3, "Timed steps (after one warm-up step).")
_BATCH = flags.DEFINE_integer("batch_size", 8, "Batch size.")


def conv_throughput(batch, dtype=tf.float32, repeats=20):
    """GFLOP/s of a 3x3 conv 112x112x64 -> 64 (the generator's most common layer)."""
    x = tf.cast(tf.random.uniform((batch, 112, 112, 64)), dtype)
    kernel = tf.cast(tf.random.uniform((3, 3, 64, 64)), dtype)
    conv = tf.function(lambda: tf.nn.conv2d(x, kernel, 1, "SAME"))
    conv().numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        conv().numpy()
    seconds = (time.perf_counter() - start) / repeats
    return 2 * batch * 112 * 112 * 9 * 64 * 64 / seconds / 1e9


def build_model(width, jit, policy):
    keras.utils.set_random_seed(0)
    config = preset("paper" if width >= 64 else "small")
    with policy_scope(policy):
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
        f"--precisions={','.join(_PRECISIONS.value)} --jit={_JIT.value} --steps={steps} --batch_size={batch_size}"
    )
    peaks = {"float32": conv_throughput(batch_size), "mixed_bfloat16": conv_throughput(batch_size, tf.bfloat16)}
    flags_here = cpu_flags()
    print(f"machine: {os.cpu_count()} cores, amx_bf16: {'amx_bf16' in flags_here}, avx512_bf16: "
          f"{'avx512_bf16' in flags_here}; 3x3 conv 112x112x64->64, batch {batch_size}: "
          f"fp32 {peaks['float32']:.0f} GFLOP/s, bf16 {peaks['mixed_bfloat16']:.0f} GFLOP/s")
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(batch_size, 112, 112, 3)).astype(np.float32)
    mask = (rng.uniform(size=(batch_size, 112, 112, 1)) > 0.85).astype(np.float32)
    batch = {
        "occluded": tf.constant(images * (1 - mask)),
        "mask": tf.constant(mask),
        "ground_truth": tf.constant(images),
    }
    data = tf.data.Dataset.from_tensors(batch).repeat()
    rows, fp32_speed = [], {}
    for width in (int(w) for w in _WIDTHS.value):
        for policy in _PRECISIONS.value:
            flops = None
            for jit in jits:
                model, config = build_model(width, jit, policy)
                model(batch["occluded"][:1])
                if flops is None:
                    flops = step_flops(model, batch)
                start = time.perf_counter()
                model.fit(data, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)  # traces (and compiles)
                warmup = time.perf_counter() - start
                start = time.perf_counter()
                model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
                seconds = (time.perf_counter() - start) / steps
                achieved = flops / seconds / 1e9
                if policy == "float32":
                    fp32_speed[(width, jit)] = batch_size / seconds
                speedup = batch_size / seconds / fp32_speed[(width, jit)] if (width, jit) in fp32_speed else None
                rows.append((width, policy, jit, batch_size / seconds, flops / 1e9, achieved,
                             achieved / peaks["mixed_bfloat16"], warmup, speedup))
    print("| width | precision | XLA | images/s | GFLOP/step | GFLOP/s | of bf16 peak | first step (s) | vs fp32 |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for width, policy, jit, ips, gflop, achieved, fraction, warmup, speedup in rows:
        print(f"| {width} | {policy} | {'on' if jit else 'off'} | {ips:.2f} | {gflop:.0f} | {achieved:.0f} "
              f"| {fraction:.0%} | {warmup:.0f} | {f'{speedup:.2f}x' if speedup else '—'} |")


if __name__ == "__main__":
    app.run(main)
