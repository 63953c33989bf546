"""Where and in which precision a stage runs: tf.distribute strategy and dtype policy."""

import contextlib

import keras
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(name):
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}.")


@contextlib.contextmanager
def precision_policy(runtime):
    """The global Keras dtype policy of a run (mixed_float16 if asked), restored afterwards."""
    previous = keras.mixed_precision.global_policy()
    if runtime.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
