"""The generator's learning curve: validation PSNR of the completed face, mask IoU and text
left (the text examples' occluder residual) against training steps, one point per epoch of
the coarse stage (I_c,r) and then of the full stage (I_f,r), read from the stages' log.csv.

The validation faces are the same every epoch (the held-out split, fixed occlusions), so
the points of one run are comparable with each other.
"""

import csv
import json
from pathlib import Path

from c2fdan_tf.training.stage import GENERATOR_STAGES
from c2fdan_tf.training.workdir import StageDirectory

CURVE_STAGES = GENERATOR_STAGES
CURVE_METRICS = (("psnr", "val_psnr", "PSNR of the completed face (dB)"),
                 ("mask_iou", "val_mask_iou", "mask IoU"),
                 ("text_left", "val_text_left", "text left (1 = untouched)"))


class LearningCurveError(ValueError):
    pass


def _epoch_rows(log_csv):
    """{epoch: row} of a Keras CSVLogger file; a resumed run's repeated epoch keeps its last row."""
    try:
        with open(log_csv, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise LearningCurveError(f"{log_csv}: cannot read the training log ({error.strerror})") from None
    if not rows or "epoch" not in rows[0]:
        raise LearningCurveError(f"{log_csv}: no epochs logged")
    return {int(row["epoch"]): row for row in rows}


def learning_curve(workdir, stages=CURVE_STAGES):
    """Points {stage, epoch, step, psnr, mask_iou, text_left} of the finished `stages`, in
    order; `step` counts generator updates from the first stage's start."""
    points, offset = [], 0
    for stage in stages:
        directory = StageDirectory(workdir, stage)
        done = directory.finished()
        if done is None:
            raise LearningCurveError(f"{directory.path}: stage {stage} has not finished (no done.json)")
        rows = _epoch_rows(directory.path / "log.csv")
        steps_per_epoch = done["optimizer_iterations"] / len(rows)
        for epoch in sorted(rows):
            row = rows[epoch]
            point = {"stage": stage, "epoch": epoch + 1, "step": int(round(offset + (epoch + 1) * steps_per_epoch))}
            for name, column, _ in CURVE_METRICS:
                value = row.get(column, "")
                point[name] = float(value) if value not in ("", None) else None
            points.append(point)
        offset += done["optimizer_iterations"]
    return points


def describe_point(point):
    """One point as text: "coarse step 1800: psnr 28.78, mask_iou 0.792, text_left 0.326" ('-' if unlogged)."""
    return f"{point['stage']} step {point['step']}: " + ", ".join(
        f"{name} {'-' if point[name] is None else round(point[name], 3)}" for name, _, _ in CURVE_METRICS)


def plot_learning_curve(runs, path):
    """Three panels (PSNR, mask IoU, text left) against steps; `runs` is {label: points} (or
    one run's points); each run's two stages are drawn as one line, the stage boundary marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = runs if isinstance(runs, dict) else {"": runs}
    fig, axes = plt.subplots(1, len(CURVE_METRICS), figsize=(5 * len(CURVE_METRICS), 3.6))
    for ax, (name, _, title) in zip(axes, CURVE_METRICS):
        for label, points in runs.items():
            mine = [p for p in points if p[name] is not None]
            line, = ax.plot([p["step"] for p in mine], [p[name] for p in mine], marker="o", markersize=3,
                            label=label or None)
            coarse_end = max((p["step"] for p in points if p["stage"] == "coarse"), default=None)
            if coarse_end is not None:
                ax.axvline(coarse_end, color=line.get_color(), linestyle=":", linewidth=1)
        ax.set(title=title, xlabel="generator steps (dotted: coarse stage -> full stage)")
        ax.grid(alpha=0.3)
    if any(runs):
        axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_learning_curve(workdir, stages=CURVE_STAGES):
    """WORKDIR/learning_curve.json and .png; returns the points."""
    workdir = Path(workdir)
    points = learning_curve(workdir, stages)
    (workdir / "learning_curve.json").write_text(json.dumps(points, indent=1))
    plot_learning_curve(points, workdir / "learning_curve.png")
    return points


def main(argv):
    """python -m c2fdan_tf.training.learning_curve OUT.png LABEL=WORKDIR [LABEL=WORKDIR ...]:
    the runs' curves in one picture (e.g. the demo and a longer run of the same preset)."""
    if len(argv) < 3 or not all("=" in run for run in argv[2:]):
        raise SystemExit("usage: python -m c2fdan_tf.training.learning_curve OUT.png LABEL=WORKDIR [...]")
    runs = {}
    for run in argv[2:]:
        label, workdir = run.split("=", 1)
        try:
            runs[label] = learning_curve(workdir)
        except LearningCurveError as error:
            raise SystemExit(f"error: {error}") from None
        print(f"{label}: {describe_point(runs[label][-1])}")
    plot_learning_curve(runs, argv[1])


if __name__ == "__main__":
    import sys

    main(sys.argv)
