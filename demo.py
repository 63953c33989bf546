"""The main job on the built-in synthetic faces: train, evaluate against the
baselines, export every format. `make demo` runs it; a re-run reuses what is done.

    python demo.py --workdir=runs/demo --config=small
"""

import sys

from absl import app, flags, logging

from c2fdan_tf import console
from c2fdan_tf.precision import PRECISIONS

_WORKDIR = flags.DEFINE_string("workdir", "runs/demo", "Where everything is written.")
_CONFIG = flags.DEFINE_string("config", "small", "Training preset (small: sized for a CPU; tiny: smoke test).")
_GALLERY = flags.DEFINE_integer("gallery_identities", 30, "Evaluation: held-out identities.")
_IMAGES = flags.DEFINE_integer("images_per_identity", 5, "Evaluation: images per identity.")
_DISTRACTORS = flags.DEFINE_integer("distractors", 1000, "Evaluation: distractor faces.")
_PAIRS = flags.DEFINE_integer("verification_pairs", 300, "Evaluation: verification pairs.")
_WILD_IMAGES = flags.DEFINE_integer("wild_images", 20, "The wild benchmark's faces (x 64 conditions).")
_REAL_SEEDS = flags.DEFINE_integer("real_photo_seeds", 1, "The packaged model beside this run's on the two real "
                                   "photos: occlusion seeds per condition.")
_VIDEO_FRAMES = flags.DEFINE_integer("video_frames", 75, "Frames of the demo video (25 a second).", lower_bound=2)
_FORMATS = flags.DEFINE_list("formats", ["saved_model", "tflite", "tflite_fp16", "tflite_int8", "onnx"],
                             "Export formats.")
_FACES = flags.DEFINE_string("faces", None, "The built-in faces' renderer: v2 (the default) or v1 (the first "
                             "releases' flat faces, for comparison).")
_PRECISION = flags.DEFINE_enum("precision", "auto", PRECISIONS,
                               "Training precision (auto: bfloat16 with AMX or AVX512_BF16, float16 on CUDA GPUs, else float32).")
console.define_verbose_flag()


def main(argv):
    # tf2onnx and SavedModel saving log every graph rewrite at INFO; keep the progress readable.
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    from c2fdan_tf.data.face_renderers import renderer
    from c2fdan_tf.main_job import EvaluationSize, run_main_job
    from c2fdan_tf.models.checkpoints import CheckpointError
    from c2fdan_tf.training.config import preset, replace_path
    from c2fdan_tf.training.stages import StageError

    try:
        config = replace_path(preset(_CONFIG.value), "runtime.precision", _PRECISION.value)
        if _FACES.value:
            config = replace_path(config, "data.faces", _FACES.value)
            renderer(_FACES.value)  # an unknown name: one line naming the choices
        size = EvaluationSize(_GALLERY.value, _IMAGES.value, _DISTRACTORS.value, _PAIRS.value, _WILD_IMAGES.value,
                              _REAL_SEEDS.value, _VIDEO_FRAMES.value)
        run_main_job(config, _WORKDIR.value, size, _FORMATS.value)
    except (ValueError, CheckpointError, StageError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    console.start(sys.argv)
    app.run(main)
