"""Time per training step of Keras' `fit` against the project's training loop
(`fit_loop.fit_resumable`, what `train.py` runs since it resumes at the exact step), on the
same model, data and precision, measured in one process in alternating rounds so that the
shared machine's load falls on both alike.

    python benchmarks/fit_vs_loop.py [--stage=coarse|full] [--width=16] [--steps=60] [--rounds=3]

Each round trains `--steps` steps with each runner (the first round of each also traces: it is
left out of the figures).
"""

import dataclasses
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from c2fdan_tf.data.face_sources import synthetic_face_source  # noqa: E402
from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer  # noqa: E402
from c2fdan_tf.data.pipelines import training_dataset  # noqa: E402
from c2fdan_tf.precision import policy_scope, resolve_precision  # noqa: E402
from c2fdan_tf.training.c2fdan import C2FDAN  # noqa: E402
from c2fdan_tf.training.fit_loop import StepBackup, fit_resumable  # noqa: E402
from c2fdan_tf.training.networks import stage_networks  # noqa: E402
from c2fdan_tf.training.stage import GeneratorStage  # noqa: E402
from c2fdan_tf.training.config import preset  # noqa: E402

_STAGE = flags.DEFINE_enum("stage", "coarse", ["coarse", "full"], "Generator stage.")
_WIDTH = flags.DEFINE_integer("width", 16, "Generator width.")
_STEPS = flags.DEFINE_integer("steps", 60, "Steps per round and runner.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Rounds (the first is warm-up).")
_PRECISION = flags.DEFINE_string("precision", "auto", "Dtype policy (auto: as train.py picks).")


def build(stage_name, config, policy):
    keras.utils.set_random_seed(0)
    stage = GeneratorStage(stage_name, config.losses_of(stage_name))
    with policy_scope(policy):
        generator, discriminators, extractor = stage_networks(stage, config.model, None, None)
        model = C2FDAN(generator, stage, discriminators, extractor)
        model.compile(optimizer=keras.optimizers.Adam(1e-4),
                      pretrained_optimizer=keras.optimizers.Adam(1e-4) if stage.trains_fine_network else None,
                      discriminator_optimizer=keras.optimizers.Adam(1e-4) if discriminators is not None else None)
    return model


def main(argv):
    del argv
    config = preset("small")  # the identity losses on the pretrained recognizer: no extractor checkpoint needed
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, width=_WIDTH.value,
                                                                   identity_network="face_api"))
    policy, _ = resolve_precision(_PRECISION.value)
    faces = synthetic_face_source("train", 50, 8)
    data = training_dataset(faces, OcclusionSynthesizer(), 8, seed=0)
    sample = next(iter(data))
    with policy_scope(policy):
        fit_model, loop_model = build(_STAGE.value, config, policy), build(_STAGE.value, config, policy)
        for model in (fit_model, loop_model):
            model(sample["occluded"][:1])
    times = {"fit": [], "loop": []}
    steps = _STEPS.value
    with tempfile.TemporaryDirectory() as folder, policy_scope(policy):
        for round_ in range(_ROUNDS.value):
            start = time.perf_counter()
            fit_model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
            times["fit"].append(time.perf_counter() - start)
            start = time.perf_counter()
            fit_resumable(loop_model, tf.distribute.get_strategy(), StepBackup(f"{folder}/{round_}"), data, epochs=1,
                          steps_per_epoch=steps, validation_data=None, callbacks=[], verbose=0)
            times["loop"].append(time.perf_counter() - start)
    print(f"stage {_STAGE.value}, width {_WIDTH.value}, {policy}, batch 8, {steps} steps per round, "
          f"rounds after the first")
    for name, values in times.items():
        per_step = np.array(values[1:]) / steps * 1000
        print(f"  {name:<5} {per_step.mean():7.1f} ms/step  (rounds: {', '.join(f'{v:.1f}' for v in per_step)})")
    print(f"  loop / fit: {np.mean(times['loop'][1:]) / np.mean(times['fit'][1:]):.3f}")


if __name__ == "__main__":
    app.run(main)
