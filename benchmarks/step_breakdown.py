"""Where the time of one stage-2 training step goes, part by part, in float32 and bfloat16.

    python benchmarks/step_breakdown.py [--width=16] [--precisions=float32,mixed_bfloat16] [--repeats=5]

Each part runs as its own traced function on the same fixed batch of 8, in this
order: generator forward; generator forward + backward of a pixel loss; the
extractor's three feature passes (I_f, I_f,r, I_gt); the seven discriminators'
forward + backward on real and fake; the whole C2FDAN train step. Parts overlap
(the whole step contains them all): the table says what each costs alone, and
what the whole step costs beyond their sum.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from c2fdan_tf.models import Discriminators, FaceFeatureExtractor, Generator  # noqa: E402
from c2fdan_tf.precision import policy_scope  # noqa: E402
from c2fdan_tf.training.c2fdan import C2FDAN  # noqa: E402
from c2fdan_tf.training.config import preset  # noqa: E402

_WIDTH = flags.DEFINE_integer("width", 16, "Generator width.")
_PRECISIONS = flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Dtype policies.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed repeats of each part (after one warm-up).")
_BATCH = flags.DEFINE_integer("batch_size", 8, "Batch size.")


def timed(function, repeats):
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats * 1000


def parts(width, policy, batch, repeats):
    keras.utils.set_random_seed(0)
    config = preset("paper" if width >= 64 else "small").model
    with policy_scope(policy):
        generator = Generator(width=width)
        discriminators = Discriminators(config.discriminator_width)
        extractor = FaceFeatureExtractor(1000, config.extractor_architecture, width=config.extractor_width,
                                         blocks_per_stage=config.extractor_blocks)
        model = C2FDAN(generator, "full", discriminators, extractor)
        model.compile(keras.optimizers.Adam(1e-4), pretrained_optimizer=keras.optimizers.Adam(5e-5),
                      discriminator_optimizer=keras.optimizers.Adam(1e-4))
        model(batch["occluded"][:1])
    images, truth = batch["occluded"], batch["ground_truth"]

    @tf.function
    def generator_forward():
        return generator(images, training=True)["completed"]

    @tf.function
    def generator_backward():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(generator(images, training=True)["completed"] - truth))
        return tape.gradient(loss, generator.trainable_variables)

    @tf.function
    def extractor_forward():
        return extractor(tf.concat([images, images, truth], axis=0), training=False)["block3"]

    @tf.function
    def discriminators_backward():
        with tf.GradientTape() as tape:
            fake = discriminators([images, images], training=True)
            real = discriminators([truth, images], training=True)
            loss = sum(tf.reduce_mean(tf.cast(v, tf.float32)) for v in list(fake.values()) + list(real.values()))
        return tape.gradient(loss, discriminators.trainable_variables)

    step = tf.function(model.train_step)
    rows = {
        "generator forward": timed(lambda: [t.numpy() for t in [generator_forward()]], repeats),
        "generator forward+backward": timed(lambda: [g.numpy() for g in generator_backward()[:1]], repeats),
        "extractor 3 passes": timed(lambda: extractor_forward().numpy(), repeats),
        "7 discriminators forward+backward": timed(lambda: [g.numpy() for g in discriminators_backward()[:1]],
                                                   repeats),
        "whole train step": timed(lambda: step(batch)["g_loss"].numpy(), repeats),
    }
    return rows


def main(argv):
    del argv
    print(f"command: python benchmarks/step_breakdown.py --width={_WIDTH.value} "
          f"--precisions={','.join(_PRECISIONS.value)} --repeats={_REPEATS.value} --batch_size={_BATCH.value}")
    rng = np.random.default_rng(0)
    n = _BATCH.value
    images = rng.uniform(size=(n, 112, 112, 3)).astype(np.float32)
    mask = (rng.uniform(size=(n, 112, 112, 1)) > 0.85).astype(np.float32)
    batch = {"occluded": tf.constant(images * (1 - mask)), "mask": tf.constant(mask),
             "ground_truth": tf.constant(images)}
    results = {policy: parts(_WIDTH.value, policy, batch, _REPEATS.value) for policy in _PRECISIONS.value}
    print(f"| part (width {_WIDTH.value}, batch {n}) | " + " | ".join(f"{p} (ms)" for p in results) + " |")
    print("|---|" + "---:|" * len(results))
    for name in next(iter(results.values())):
        print(f"| {name} | " + " | ".join(f"{results[p][name]:.0f}" for p in results) + " |")


if __name__ == "__main__":
    app.run(main)
