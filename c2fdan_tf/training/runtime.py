"""Where a stage runs: the tf.distribute strategy (its precision: `c2fdan_tf.precision`)."""

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(name):
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        # Keras 3's Model.fit fails under MultiWorkerMirroredStrategy even for a two-layer model
        # (keras-team/keras#20585): refuse it plainly until the stages have their own loop.
        raise ValueError("--strategy=multi_worker does not work yet: Keras 3's Model.fit fails under "
                         "MultiWorkerMirroredStrategy (keras-team/keras#20585); use default or mirrored.")
    raise ValueError(f"Unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}.")
