"""The wild benchmark (issue 29): the paper's reconstruction protocol on the occluders people
meet -- every wild family at two sizes at the paper's four positions, seeded like the paper's
benchmark (`benchmark_occlusions.wild_conditions`) -- plus the clean-face check: how much of a
face with nothing on it the model masks and changes. Table I stays on the paper's benchmark."""

import dataclasses
import json
from pathlib import Path

import numpy as np
from PIL import Image

from c2fdan_tf.data.benchmark_occlusions import wild_conditions
from c2fdan_tf.data.occluders.families import BENCHMARK_SIZES as WILD_SIZES, WILD_FAMILIES
from c2fdan_tf.evaluation.benchmark_data import synthesize_conditions
from c2fdan_tf.evaluation.methods import LABELS
from c2fdan_tf.evaluation.report import _fmt, example_grid
from c2fdan_tf.evaluation.runner import evaluate
from c2fdan_tf.image_metrics import psnr
from c2fdan_tf.inference.runners import as_runner

BENCHMARKS = ("paper", "wild")
# The methods of the wild table, in its column order (those evaluated).
TABLE_METHODS = ("occluded", "telea_gt_mask", "telea_predicted_mask", "bvmr", "c2fdan_coarse", "c2fdan")


def wild_benchmark(benchmark, seed, max_images=None, families=WILD_FAMILIES):
    """`benchmark`'s gallery (its first `max_images`) under every wild condition; no
    recognition data (reconstruction only)."""
    count = len(benchmark.gallery) if max_images is None else min(max_images, len(benchmark.gallery))
    gallery = benchmark.gallery[:count]
    conditions = wild_conditions(families)
    return dataclasses.replace(
        benchmark, name=f"wild: {benchmark.name}", gallery=gallery, labels=benchmark.labels[:count],
        occluded=synthesize_conditions(gallery, seed, conditions), distractor_count=0, pairs=None,
        known_landmarks=None, distractor_digest=None)


def clean_face_check(generator, faces, threshold=0.5):
    """On faces with nothing on them: the share of pixels the predicted mask marks (>= threshold)
    and the PSNR of the output against the untouched input (infinite = unchanged)."""
    images = np.asarray(faces, np.float32) / (255.0 if np.asarray(faces).dtype == np.uint8 else 1.0)
    outputs = as_runner(generator)(images)
    share = float(np.mean(outputs["mask"] >= threshold))
    return {"mask_share": share, "psnr_vs_input": float(np.mean(psnr(outputs["completed"], images).numpy())),
            "faces": int(len(images))}


def evaluate_wild(generator, benchmark, seed, methods, max_images=None, coarse_stage1=None, bvmr=None,
                  progress=True):
    """The wild benchmark's report: reconstruction per family (summary["<method>"]["psnr"][family]
    and so on) and report["clean"] (`clean_face_check` on the same gallery)."""
    wild = wild_benchmark(benchmark, seed, max_images)
    report = evaluate(generator, None, wild, ("reconstruction",), methods, coarse_stage1=coarse_stage1, bvmr=bvmr,
                      progress=progress)
    report["clean"] = clean_face_check(generator, wild.gallery)
    report["benchmark"] = {"name": wild.name, "gallery_images": int(len(wild.gallery)),
                           "conditions": [o.condition.name for o in wild.occluded]}
    return report


def family_table(summary, methods=TABLE_METHODS):
    """Markdown: one row per family (and the mean): PSNR of each method, then C2FDAN's mask IoU
    and the occluder left after it and after Telea given its predicted mask."""
    shown = [m for m in methods if m in summary and "psnr" in summary[m]]
    header = (["family"] + [f"PSNR {LABELS.get(m, m)}" for m in shown]
              + ["mask IoU C2FDAN", "left C2FDAN", "left Telea (pred. mask)"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for family in WILD_FAMILIES + ("average",):
        final, telea = summary.get("c2fdan", {}), summary.get("telea_predicted_mask", {})
        if family not in final.get("psnr", {}):
            continue
        cells = [family if family != "average" else "**mean of the families**"]
        cells += [_fmt(summary[m]["psnr"].get(family)) for m in shown]
        cells += [_fmt(final.get("mask_iou", {}).get(family), digits=3),
                  _fmt(final.get("occluder_residual", {}).get(family), digits=3),
                  _fmt(telea.get("occluder_residual", {}).get(family), digits=3)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def clean_line(clean):
    return (f"Clean faces ({clean['faces']}, nothing on them): the predicted mask covers "
            f"{100 * clean['mask_share']:.3f} % of the pixels; the output is {clean['psnr_vs_input']:.1f} dB from "
            "the untouched input.")


def write_wild_report(report, out_dir, metadata):
    """report.json, report.md (the family table) and examples.png of the wild benchmark."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {key: value for key, value in report.items() if key != "examples"}
    data["metadata"] = metadata
    (out_dir / "report.json").write_text(json.dumps(data, indent=1, default=float))
    shown = {c.name for c in wild_conditions(positions=("nose",)) if c.size == WILD_SIZES[c.form][-1]}
    rows = [r for r in report["examples"] if r["condition"] in shown] or report["examples"]  # each family, large, nose
    if rows:
        Image.fromarray(example_grid(rows)).save(out_dir / "examples.png")
    lines = [f"# C2FDAN on the wild benchmark: {report['benchmark']['name']}", "",
             f"{report['benchmark']['gallery_images']} faces x {len(report['benchmark']['conditions'])} conditions "
             "(8 families x 2 sizes x mouth, nose, eyes, outside). PSNR in dB against the clean face; mask IoU of "
             "the predicted mask; 'left': the share of the occluder's contrast still there after removal (0 = "
             "gone, 1 = untouched).", "", family_table(report["summary"]), "", clean_line(report["clean"]), "",
             "![examples](examples.png)"]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    return out_dir / "report.md"
