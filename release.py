"""Trains the packaged model (the `release` preset) end to end, resumably, and packages it.

    python release.py --workdir=runs/release > runs/release.log 2>&1 &

Run the same command again after an interruption: the running stage resumes from its
last backup, finished stages are reused. When all three stages are done, the model is
exported and written to --package_dir (default: the package's own c2fdan_tf/pretrained/)
with its manifest. --config=tiny is a smoke run (seconds); give it its own --package_dir.
After a change of the renderer's look, `python release.py --rerecord_fixed_benchmark` measures
the packaged model on the fixed benchmark's new faces and records the figures in the manifest.
"""

import sys

from absl import app, flags, logging

from c2fdan_tf import console
from c2fdan_tf.precision import PRECISIONS

_WORKDIR = flags.DEFINE_string("workdir", "runs/release", "Where the stages are trained.")
_CONFIG = flags.DEFINE_string("config", "release", "Training preset (release; tiny: a smoke run).")
_PRECISION = flags.DEFINE_enum("precision", "auto", PRECISIONS,
                               "Training precision (auto: bfloat16 with AMX or AVX512_BF16, float16 on CUDA GPUs, "
                               "else float32).")
_PACKAGE_ONLY = flags.DEFINE_bool("package_only", False, "Package the full stage's best checkpoint as it is now, "
                                  "without training on (the manifest says how many steps it had).")
_PACKAGE_DIR = flags.DEFINE_string("package_dir", None, "Where the trained model is packaged (default: "
                                   "c2fdan_tf/pretrained/, what c2fdan-complete and the phone app use).")
_RERECORD = flags.DEFINE_bool("rerecord_fixed_benchmark", False, "Only measure the packaged model on the fixed benchmark "
                               "as the current renderer draws it and write the figures into its manifest (after a "
                               "change of the renderer's look; the model files stay as they are).")
console.define_verbose_flag()


def main(argv):
    # tf2onnx and SavedModel saving log every graph rewrite at INFO; keep the progress readable.
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    from c2fdan_tf.models.checkpoints import CheckpointError
    from c2fdan_tf.export.exporter import ExportError
    from c2fdan_tf.pretrained_model import PRETRAINED_DIR
    from c2fdan_tf.release import package_release, recorded_totals, rerecord_fixed_benchmark, train_release
    from c2fdan_tf.training.config import preset, replace_path
    from c2fdan_tf.training.stages import StageError

    try:
        if _RERECORD.value:
            rerecord_fixed_benchmark(_PACKAGE_DIR.value or PRETRAINED_DIR)
            return
        config = replace_path(preset(_CONFIG.value), "runtime.precision", _PRECISION.value)
        if _CONFIG.value != "release" and not _PACKAGE_DIR.value:
            raise ValueError(f"--config={_CONFIG.value} is not the release recipe: give it its own --package_dir, "
                             "the package's model is the release preset's.")
        totals = recorded_totals(_WORKDIR.value) if _PACKAGE_ONLY.value else train_release(config, _WORKDIR.value)
        package_release(config, _WORKDIR.value, _PACKAGE_DIR.value or PRETRAINED_DIR, totals)
    except (ValueError, CheckpointError, StageError, ExportError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    console.start(sys.argv)
    app.run(main)
