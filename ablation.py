"""Table I's ablation study in one command: trains the full stage once per row (identity
losses, '*', attention branches) from one shared extractor and stage-1 coarse checkpoint,
then evaluates every row on one benchmark with eval.py and writes the table.

    python ablation.py --workdir=runs/demo --config=small            # after make demo: reuses its stages 0-1
    python ablation.py --workdir=runs/abl --rows=per,per_self,per_cross --steps_per_epoch=200

Rows (c2fdan_tf.training.ablation.ABLATION_ROWS): per_style (the paper's recipe), per (no
L_style, the paper's best recognition), style, per_self, per_cross, per_star (L_occ on I_f).
Writes WORKDIR/ablation/<row>/full/ (a training stage each: resumable, reused when done) and
WORKDIR/ablation/eval/ablation.md.
"""

import subprocess
import sys
import time
from pathlib import Path

from absl import app, flags

from c2fdan_tf import console
from c2fdan_tf.precision import PRECISIONS

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory: its extractor/ and coarse/ stages are reused.")
_CONFIG = flags.DEFINE_string("config", "small", "Training preset: paper, small or tiny.")
_ROWS = flags.DEFINE_list("rows", None, "Ablation rows (default: all).")
_STEPS = flags.DEFINE_integer("steps_per_epoch", None, "Full stage: steps per epoch of every row (default: the preset's).")
_PRECISION = flags.DEFINE_enum("precision", "auto", PRECISIONS, "Training precision.")
_GALLERY = flags.DEFINE_integer("gallery_identities", 30, "Evaluation: held-out identities.")
_IMAGES = flags.DEFINE_integer("images_per_identity", 5, "Evaluation: images per identity.")
_DISTRACTORS = flags.DEFINE_integer("distractors", 1000, "Evaluation: distractor faces.")
_PAIRS = flags.DEFINE_integer("verification_pairs", 300, "Evaluation: verification pairs.")
console.define_verbose_flag()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    from c2fdan_tf.models.checkpoints import CheckpointError
    from c2fdan_tf.training.ablation import ABLATION_ROWS, check_rows, train_ablation
    from c2fdan_tf.training.config import preset, replace_path
    from c2fdan_tf.training.stages import StageError
    from c2fdan_tf.training.workdir import stage_checkpoint

    start = time.time()
    workdir = Path(_WORKDIR.value)
    try:
        rows = check_rows(_ROWS.value or list(ABLATION_ROWS))
        config = replace_path(preset(_CONFIG.value), "runtime.precision", _PRECISION.value)
        if _STEPS.value:
            config = replace_path(config, "schedule.full.steps_per_epoch", _STEPS.value)
        checkpoints = train_ablation(config, workdir, rows, verbose=console.fit_verbosity())
    except (ValueError, CheckpointError, StageError) as error:
        sys.exit(f"error: {error}")
    trained = time.time() - start
    out = workdir / "ablation" / "eval"
    command = [sys.executable, str(Path(__file__).resolve().parent / "eval.py"),
               f"--checkpoint={','.join(str(path) for path in checkpoints.values())}",
               f"--coarse_checkpoint={stage_checkpoint(workdir, 'coarse')}",
               f"--extractor={stage_checkpoint(workdir, 'extractor')}",
               "--methods=non_occluded,occluded,coarse_stage1,c2fdan", f"--out={out}", "--ablation_table",
               f"--gallery_identities={_GALLERY.value}", f"--images_per_identity={_IMAGES.value}",
               f"--distractors={_DISTRACTORS.value}", f"--verification_pairs={_PAIRS.value}"]
    print("evaluating every row:", " ".join(command[1:]), flush=True)
    if subprocess.run(command).returncode != 0:
        sys.exit("error: the evaluation of the ablation rows failed (its message is above).")
    table = (out / "ablation.md").read_text()
    legend = "\n".join(f"- `{name}`: {ABLATION_ROWS[name].describe()}" for name in rows)
    header = (f"Command: `python ablation.py {' '.join(sys.argv[1:])}`; preset {_CONFIG.value}; "
              f"training {trained / 60:.1f} min, in all {(time.time() - start) / 60:.1f} min.\n\nRows:\n{legend}\n\n")
    (out / "ablation.md").write_text(header + table)
    print(header + table)


if __name__ == "__main__":
    console.start(sys.argv)
    flags.mark_flags_as_required(["workdir"])
    app.run(main)
