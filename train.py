"""Trains C2FDAN, one stage per call, as in the paper (Sec. IV-A).

    python train.py --stage=extractor --workdir=runs/mine --config=small
    python train.py --stage=coarse    --workdir=runs/mine --config=small
    python train.py --stage=full      --workdir=runs/mine --config=small

Table I's baselines train the same way: --stage=bvmr (Hertz et al.'s blind motif removal)
and --stage=extractor_occ (ResNet-50-occ: the extractor with occlusion augmentation).

Across machines: every host sets TF_CONFIG and runs the same command with
--strategy=multi_worker (README, "Training on several machines").

Stages find each other's checkpoints in the same --workdir (or take --init_from
and --extractor). Running a command again resumes an interrupted stage from its
last backup and skips a finished one (--restart trains it again).
"""

import sys

from absl import app, flags

from c2fdan_tf import console
from c2fdan_tf.precision import PRECISIONS

_STAGE = flags.DEFINE_enum("stage", None, ["extractor", "coarse", "full", "bvmr", "extractor_occ"],
                           "Training stage: the paper's three, or Table I's baselines BVMR and ResNet-50-occ.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory (one sub-folder per stage).")
_CONFIG = flags.DEFINE_string("config", "small", "Preset: paper, small or tiny.")
_DATA = flags.DEFINE_string("data", None, "synth (built-in faces) or a folder of aligned faces / TFRecords.")
_INIT_FROM = flags.DEFINE_string("init_from", None, "Stage full: generator/coarse checkpoint (default: WORKDIR/coarse); "
                                  "stage extractor_occ: an extractor checkpoint to fine-tune (default: from scratch, as the paper).")
_INIT_FINE = flags.DEFINE_bool("init_fine_network", None, "Stage full: start the fine network from --init_from's "
                               "too (fine-tuning a trained generator such as c2fdan_tf/pretrained/c2fdan.keras).")
_EXTRACTOR = flags.DEFINE_string("extractor", None, "Stage full: extractor checkpoint (default: WORKDIR/extractor).")
_RESTART = flags.DEFINE_bool("restart", False, "Discard this stage's previous results and backups.")
# Overrides of the preset.
_WIDTH = flags.DEFINE_integer("width", None, "Generator base channels (64 = paper).")
_BVMR_WIDTH = flags.DEFINE_integer("bvmr_width", None, "Stage bvmr: first encoder channels (32 = its paper).")
_OCCLUSION_AUGMENTATION = flags.DEFINE_float("occlusion_augmentation", None,
                                             "Stage extractor_occ: share of the training faces occluded.")
_OCCLUDERS = flags.DEFINE_string("occluders", None,
                                 "Stages coarse, full, bvmr: the occluders to train on, family:probability,... "
                                 "(paper, subtitle, watermark, tiled_watermark, emoji, sticker, stroke, object, "
                                 "textured); 'paper' = the paper's alone (default of --config=paper).")
_FACE_TEXTURE = flags.DEFINE_float("face_texture", None,
                                   "Stages coarse, full, bvmr: share of the clean faces given natural photo texture "
                                   "before they are occluded (0 = untouched, the paper's).")
_FACES = flags.DEFINE_string("faces", None, "--data=synth: the built-in faces' renderer, v2 (shaded, textured, "
                             "accessories; the default) or v1 (the first releases' flat faces).")
_ALLOW_UNALIGNED = flags.DEFINE_bool("allow_unaligned", None,
                                     "Train on a folder of faces that are mostly not 112x112 (centre-cropped and "
                                     "resized instead of aligned); refused without it.")
_BATCH = flags.DEFINE_integer("batch_size", None, "Global batch size of this stage.")
_EPOCHS = flags.DEFINE_integer("epochs", None, "Epochs of this stage.")
_STEPS = flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch of this stage (0: one pass over the data).")
_LR = flags.DEFINE_float("learning_rate", None, "Learning rate of this stage (stage full: the new weights).")
_PRETRAINED_LR = flags.DEFINE_float("pretrained_learning_rate", None, "Stage full: lr of the coarse weights.")
_D_LR = flags.DEFINE_float("discriminator_learning_rate", None, "Stage full: discriminator lr.")
_LR_DECAY = flags.DEFINE_float("learning_rate_decay", None,
                               "Factor on this stage's rates after every epoch (1: constant; paper's stage full: 0.1).")
_ATTENTION = flags.DEFINE_enum("attention", None, ["both", "self", "cross", "none"], "Attention branches.")
_CROSS_MODE = flags.DEFINE_enum("cross_attention_mode", None, ["hard", "soft"], "Cross-attention argmax or softmax.")
_EXCLUDE_KEYS = flags.DEFINE_bool("exclude_partially_masked_keys", None,
                                  "Cross-attention never copies a key patch touching the mask (not in the paper).")
_IDENTITY = flags.DEFINE_enum("identity_network", None, ["project", "face_api"],
                              "Network of the identity losses: the extractor stage's, or face-api.js' pretrained "
                              "recognizer (no extractor stage needed).")
_WEIGHTS = {
    name: flags.DEFINE_float(f"{name}_weight", None, f"Loss weight λ of the {name.replace('_', ' ')} term.")
    for name in ("mask", "mask_dice", "occluded", "non_occluded", "perceptual", "style", "adversarial")
}
_ON_FINE = flags.DEFINE_bool("occluded_on_fine", None, "Table I '*': occluded L1 also on I_f.")
_SEED = flags.DEFINE_integer("seed", None, "Seed of data, occlusions and initialisation.")
_STRATEGY = flags.DEFINE_enum("strategy", None, ["default", "mirrored", "multi_worker"], "tf.distribute strategy.")
_PRECISION = flags.DEFINE_enum("precision", None, PRECISIONS,
                               "Compute precision (auto: bfloat16 with AMX or AVX512_BF16, float16 on CUDA GPUs, else float32).")
_MIXED = flags.DEFINE_bool("mixed_precision", None, "Old name of --precision=mixed_float16.")
_JIT = flags.DEFINE_bool("jit_compile", None, "Compile the train step with XLA.")
_BACKUP = flags.DEFINE_integer("backup_every_steps", None, "Back up every N steps (0: every epoch).")
_WORKER_TIMEOUT = flags.DEFINE_integer("worker_timeout", None,
                                       "--strategy=multi_worker: seconds to wait for the other workers to start.")
console.define_verbose_flag()
# Flags that override the preset (see training.config.FLAG_FIELDS for where each lands).
_OVERRIDES = [_DATA, _FACES, _OCCLUDERS, _FACE_TEXTURE, _ALLOW_UNALIGNED, _WIDTH, _BVMR_WIDTH, _OCCLUSION_AUGMENTATION, _BATCH, _EPOCHS, _STEPS, _LR, _PRETRAINED_LR, _D_LR, _LR_DECAY, _ATTENTION, _CROSS_MODE, _EXCLUDE_KEYS,
              _IDENTITY, _ON_FINE, _INIT_FINE,
              _SEED, _STRATEGY, _PRECISION, _JIT, _BACKUP, _WORKER_TIMEOUT, *_WEIGHTS.values()]


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    from c2fdan_tf.models.checkpoints import CheckpointError
    from c2fdan_tf.training.config import resolve_config
    from c2fdan_tf.training.stages import StageError, run_stage

    overrides = {flag.name: flag.value for flag in _OVERRIDES}
    if _MIXED.value is not None:
        if _PRECISION.value is not None:
            raise app.UsageError("Give --precision, not --mixed_precision as well.")
        overrides["precision"] = "mixed_float16" if _MIXED.value else "float32"
        print(f"note: --mixed_precision is now --precision={overrides['precision']}.")
    try:
        config = resolve_config(_CONFIG.value, _STAGE.value, overrides)
        result = run_stage(
            config, _STAGE.value, _WORKDIR.value, _INIT_FROM.value, _EXTRACTOR.value, restart=_RESTART.value,
            verbose=console.fit_verbosity(),
        )
    except (ValueError, CheckpointError, StageError) as error:
        sys.exit(f"error: {error}")
    if result.skipped:
        print(f"Stage {result.stage} already finished in {result.directory} (--restart to train it again).")
    else:
        print(f"Stage {result.stage} finished in {result.summary['seconds']:.0f} s; results in {result.directory}.")
    for key, value in result.summary.items():
        if key not in ("final", "stage", "seconds"):
            print(f"  {key}: {value}")


if __name__ == "__main__":
    console.start(sys.argv)
    flags.mark_flags_as_required(["stage", "workdir"])
    app.run(main)
