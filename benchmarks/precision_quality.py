"""Does bfloat16 training reach the quality of float32? The coarse stage of a preset,
trained from the same seed in each precision, validation curves side by side.

    python benchmarks/precision_quality.py --workdir=runs/precision [--config=small]

Trains WORKDIR/<precision>/coarse for each precision (a finished one is reused, an
interrupted one resumed) and prints, per epoch, the validation PSNR and mask IoU
of each and the difference, and each run's training time.
"""

import csv
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", "runs/precision", "One sub-folder per precision.")
_CONFIG = flags.DEFINE_string("config", "small", "Preset whose coarse stage is trained.")
_PRECISIONS = flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Reference first.")


def curve(stage_dir):
    with open(Path(stage_dir) / "log.csv") as handle:
        return [(float(row["val_psnr"]), float(row["val_mask_iou"])) for row in csv.DictReader(handle)]


def main(argv):
    del argv
    from c2fdan_tf.training.config import replace_path, resolve_config
    from c2fdan_tf.training.stages import run_stage

    print(f"command: python benchmarks/precision_quality.py --workdir={_WORKDIR.value} --config={_CONFIG.value} "
          f"--precisions={','.join(_PRECISIONS.value)}")
    curves, seconds = {}, {}
    for precision in _PRECISIONS.value:
        config = replace_path(resolve_config(_CONFIG.value, "coarse", {}), "runtime.precision", precision)
        result = run_stage(config, "coarse", Path(_WORKDIR.value) / precision, verbose=2)
        curves[precision], seconds[precision] = curve(result.directory), result.summary["seconds"]
    reference, *others = _PRECISIONS.value
    header = " | ".join(f"{p} PSNR | {p} IoU" for p in _PRECISIONS.value)
    print(f"| epoch | {header} | " + " | ".join(f"Δ PSNR {p} | Δ IoU {p}" for p in others) + " |")
    print("|---:" + "|---:" * (2 * len(_PRECISIONS.value) + 2 * len(others)) + "|")
    for epoch, values in enumerate(zip(*(curves[p] for p in _PRECISIONS.value)), 1):
        cells = [f"{psnr:.2f} | {iou:.3f}" for psnr, iou in values]
        deltas = [f"{values[i][0] - values[0][0]:+.2f} | {values[i][1] - values[0][1]:+.3f}"
                  for i in range(1, len(values))]
        print(f"| {epoch} | " + " | ".join(cells + deltas) + " |")
    print("training time: " + ", ".join(f"{p} {seconds[p]:.0f} s" for p in _PRECISIONS.value))


if __name__ == "__main__":
    app.run(main)
