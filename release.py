"""Trains the packaged model (the `release` preset) end to end, resumably.

    python release.py --workdir=runs/release > runs/release.log 2>&1 &

Run the same command again after an interruption: the running stage resumes from its
last backup, finished stages are reused. --config=tiny is a smoke run (seconds).
"""

import sys

from absl import app, flags

from c2fdan_tf import console
from c2fdan_tf.precision import PRECISIONS

_WORKDIR = flags.DEFINE_string("workdir", "runs/release", "Where the stages are trained.")
_CONFIG = flags.DEFINE_string("config", "release", "Training preset (release; tiny: a smoke run).")
_PRECISION = flags.DEFINE_enum("precision", "auto", PRECISIONS,
                               "Training precision (auto: bfloat16 with AMX or AVX512_BF16, float16 on CUDA GPUs, "
                               "else float32).")
console.define_verbose_flag()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    from c2fdan_tf.models.checkpoints import CheckpointError
    from c2fdan_tf.release import train_release
    from c2fdan_tf.training.config import preset, replace_path
    from c2fdan_tf.training.stages import StageError

    try:
        config = replace_path(preset(_CONFIG.value), "runtime.precision", _PRECISION.value)
        train_release(config, _WORKDIR.value)
    except (ValueError, CheckpointError, StageError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    console.start(sys.argv)
    app.run(main)
