"""The packaged model beside the main job's own (issue 31): the same paper and wild benchmarks,
the same recognizer, and the real photos, with the packaged model's targets.

The main job trains its own model (the pipeline is the job); this step measures the model that
ships in `c2fdan_tf/pretrained/` on exactly the images the demo model was measured on, so the
two rows of every table are comparable. It writes `<workdir>/packaged/report.md` and
`report.json`; the targets join `targets.json` under "packaged model: ...".
"""

import json
from pathlib import Path

from c2fdan_tf import pretrained_model
from c2fdan_tf.data.occluders.families import WILD_FAMILIES
from c2fdan_tf.evaluation.methods import LABELS
from c2fdan_tf.evaluation.real_photos import agreement_db, barred_real_faces, comparison_table, real_photo_report
from c2fdan_tf.evaluation.runner import evaluate
from c2fdan_tf.evaluation.wild import evaluate_wild
from c2fdan_tf.inference.runners import as_runner

# What the packaged model is measured with: its own coarse and fine outputs, and Telea given its mask.
PAPER_METHODS = ("occluded", "telea_predicted_mask", "c2fdan_coarse", "c2fdan")
WILD_METHODS = ("occluded", "telea_predicted_mask", "c2fdan")
# The packaged model's targets (issue 31), measured by the main job's evaluation.
PSNR_OVER_TELEA_DB = 0.5
FINE_OVER_COARSE_DB = 1.0
TEXT_LEFT_TARGET = 0.15
MASK_IOU_TARGET = 0.90
WILD_MASK_IOU_TARGET = 0.85
CLEAN_MASK_SHARE_TARGET = 0.001
INT8_AGREEMENT_DB = 40.0
REAL_PHOTO_SEEDS = 1  # x 2 photos x 88 conditions: 176 images a model, 7 s (benchmarks/real_photo_occluders.py: more)


def packaged_targets(paper, wild, int8_db):
    """{name: {"value", "met"}}: the packaged model's targets from its paper summary, its wild
    report and the int8 file's agreement with the Keras model on the barred astronaut."""
    final, coarse, telea = paper["c2fdan"], paper["c2fdan_coarse"], paper["telea_predicted_mask"]
    avg = lambda entry, metric: entry[metric]["average"]  # noqa: E731
    gap = avg(final, "psnr") - avg(telea, "psnr")
    checks = {f"psnr >= Telea (predicted mask) + {PSNR_OVER_TELEA_DB:g} dB": (gap, gap >= PSNR_OVER_TELEA_DB)}
    if "tpir_rank1" in final and "tpir_rank1" in telea:
        gap = avg(final, "tpir_rank1") - avg(telea, "tpir_rank1")
        checks["TPIR@1 >= Telea (predicted mask)"] = (gap, gap >= 0)
    gap = avg(final, "psnr") - avg(coarse, "psnr")
    checks[f"fine psnr >= coarse psnr + {FINE_OVER_COARSE_DB:g} dB"] = (gap, gap >= FINE_OVER_COARSE_DB)
    left = final.get("occluder_residual", {}).get("text")
    if left is not None:
        checks[f"text left <= {TEXT_LEFT_TARGET}"] = (left, left <= TEXT_LEFT_TARGET)
    iou = avg(final, "mask_iou")
    checks[f"mask_iou >= {MASK_IOU_TARGET}"] = (iou, iou >= MASK_IOU_TARGET)
    for family in WILD_FAMILIES:
        iou = wild["summary"]["c2fdan"]["mask_iou"].get(family)
        if iou is not None:
            checks[f"wild {family}: mask_iou >= {WILD_MASK_IOU_TARGET}"] = (iou, iou >= WILD_MASK_IOU_TARGET)
    share = wild["clean"]["mask_share"]
    checks[f"clean faces: mask on < {100 * CLEAN_MASK_SHARE_TARGET:g} % of pixels"] = (
        share, share < CLEAN_MASK_SHARE_TARGET)
    checks[f"int8 vs Keras on a real photo >= {INT8_AGREEMENT_DB:g} dB"] = (int8_db, int8_db >= INT8_AGREEMENT_DB)
    return {f"packaged model: {name}": {"value": float(value), "met": bool(met)}
            for name, (value, met) in checks.items()}


def _cell(entry, metric, key="average", digits=2):
    value = entry.get(metric, {}).get(key) if isinstance(entry.get(metric), dict) else None
    return "" if value is None else f"{value:.{digits}f}"


def paper_table(rows):
    """Markdown: rows [(label, summary entry)]: PSNR, SSIM, mask IoU, text left, TPIR@1."""
    lines = ["| method | PSNR | SSIM | mask IoU | text left | TPIR@1 |", "|---|---|---|---|---|---|"]
    for label, entry in rows:
        lines.append(f"| {label} | {_cell(entry, 'psnr')} | {_cell(entry, 'ssim', digits=3)} | "
                     f"{_cell(entry, 'mask_iou', digits=3)} | {_cell(entry, 'occluder_residual', 'text', 3)} | "
                     f"{_cell(entry, 'tpir_rank1', digits=3)} |")
    return "\n".join(lines)


def wild_table(demo, packaged):
    """Markdown: per family, mask IoU, PSNR and occluder left of both models."""
    lines = ["| family | mask IoU demo | mask IoU packaged | PSNR demo | PSNR packaged | left demo | left packaged |",
             "|---|---|---|---|---|---|---|"]
    for family in WILD_FAMILIES + ("average",):
        a, b = demo["summary"]["c2fdan"], packaged["summary"]["c2fdan"]
        if family not in a["psnr"] or family not in b["psnr"]:
            continue
        cells = [_cell(e, m, family, d) for m, d in (("mask_iou", 3), ("psnr", 2), ("occluder_residual", 3))
                 for e in (a, b)]
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    lines.append(f"| clean faces: % masked | {100 * demo['clean']['mask_share']:.3f} | "
                 f"{100 * packaged['clean']['mask_share']:.3f} | | | | |")
    return "\n".join(lines)


def compare_packaged(benchmark, recognizer, wild_gallery, seed, wild_images, demo_generator, demo_paper, demo_wild,
                     out_dir, fresh_key, log=print, real_photo_seeds=REAL_PHOTO_SEEDS, folder=None):
    """Measures the packaged model (verified against its manifest) beside the demo model
    (`benchmark`, `recognizer`, `wild_gallery`, `demo_generator`: functions returning the demo's
    own, called only when something is measured); writes
    out_dir/report.md and report.json and returns that report (with "targets"), or None when
    the package has no model (the reason is logged; the main job goes on). A report whose
    "key" equals `fresh_key` (the checkpoints' SHA-256s) is reused."""
    folder = pretrained_model.PRETRAINED_DIR if folder is None else Path(folder)
    try:
        manifest = pretrained_model.verify(folder, [pretrained_model.FILES[k] for k in ("keras", "tflite_int8")])
    except pretrained_model.PretrainedError as error:
        log(f"the packaged model is not compared: {error}")
        return None
    keras_path = folder / pretrained_model.FILES["keras"]
    key = {**fresh_key, "packaged": manifest["files"][pretrained_model.FILES["keras"]]["sha256"],
           "real_photo_seeds": real_photo_seeds}
    out_dir = Path(out_dir)
    try:
        earlier = json.loads((out_dir / "report.json").read_text())
        if earlier.get("key") == key:
            log("the packaged model's comparison with this checkpoint already done, reused")
            return earlier
    except (OSError, ValueError):
        pass
    log(f"the packaged model: {pretrained_model.describe(manifest)}")
    packaged = as_runner(str(keras_path))
    paper = evaluate(packaged, recognizer(), benchmark(), ("reconstruction", "identification"),
                     PAPER_METHODS)["summary"]
    wild = evaluate_wild(packaged, wild_gallery(), seed, list(WILD_METHODS), wild_images)
    int8_db = agreement_db(as_runner(str(folder / pretrained_model.FILES["tflite_int8"])), packaged,
                           barred_real_faces(("astronaut",)))
    real = {"demo": real_photo_report(as_runner(demo_generator()), real_photo_seeds),
            "packaged": real_photo_report(packaged, real_photo_seeds)}
    report = {"key": key, "paper": paper, "wild": {"summary": wild["summary"], "clean": wild["clean"]},
              "real_photos": real, "int8_vs_keras_real_photo_db": int8_db,
              "targets": packaged_targets(paper, wild, int8_db)}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1))
    (out_dir / "report.md").write_text(markdown(report, demo_paper, demo_wild, manifest))
    return report


def _seeds(count):
    return f"{count} occlusion seed{'' if count == 1 else 's'} a condition"


def markdown(report, demo_paper, demo_wild, manifest):
    """The side-by-side report: paper benchmark, wild benchmark, real photos, the targets."""
    paper = report["paper"]
    rows = [(LABELS[m], demo_paper[m]) for m in ("occluded", "telea_gt_mask", "bvmr") if m in demo_paper]
    rows += [("Telea (demo model's mask)", demo_paper["telea_predicted_mask"]),
             ("C2FDAN coarse, demo model", demo_paper["c2fdan_coarse"]), ("C2FDAN, demo model", demo_paper["c2fdan"]),
             ("Telea (packaged model's mask)", paper["telea_predicted_mask"]),
             ("C2FDAN coarse, packaged model", paper["c2fdan_coarse"]), ("**C2FDAN, packaged model**", paper["c2fdan"])]
    targets = "\n".join(f"- {'met' if t['met'] else '**NOT met**'}: {name} ({t['value']:+.3f})"
                        for name, t in report["targets"].items())
    return f"""# The packaged model beside this run's model

The packaged model: {pretrained_model.describe(manifest)}

## The paper's benchmark (the same images and recognizer as report.md)

{paper_table(rows)}

## The wild benchmark (the same faces as wild/report.md)

{wild_table({"summary": demo_wild["summary"], "clean": demo_wild["clean"]}, report["wild"])}

## Real photos (astronaut, Grace Hopper; {_seeds(report["real_photos"]["demo"]["seeds"])})

{comparison_table(report["real_photos"])}

The int8 TFLite file against the Keras model on the astronaut with a bar over the mouth:
{report["int8_vs_keras_real_photo_db"]:.1f} dB.

## The packaged model's targets

{targets}
"""
