"""The main job: train, evaluate and export C2FDAN on the built-in synthetic faces.

Stages, each skipped when its result is already in the work directory (so a
re-run resumes an interrupted stage and reuses finished ones):

1. the face feature extractor, the coarse stage and the full GAN stage (train.py's
   stages, `training.stages.run_stage`);
2. evaluation against the baselines on held-out synthetic identities
   (report.md, report.json, plots, examples.png, completions.png), the identity metrics
   by the project's extractor; then identification and verification again by face-api.js'
   pretrained recognizer (face_api/report.md);
3. export of every format with parity checks (export/ and its manifest.json);
4. targets.json: the main job's quality targets, met or not.
"""

import dataclasses
import functools
import json
import time
from pathlib import Path

from PIL import Image

from c2fdan_tf.console import fit_verbosity
from c2fdan_tf.data.benchmark_occlusions import middle_size_conditions
from c2fdan_tf.evaluation.benchmark_data import synthetic_benchmark
from c2fdan_tf.evaluation.methods import METHODS
from c2fdan_tf.evaluation.report import example_grid, markdown_table, write_report
from c2fdan_tf.evaluation.runner import evaluate
from c2fdan_tf.export.calibration import occluded_faces
from c2fdan_tf.export.exporter import FORMATS, export_artifacts
from c2fdan_tf.models.checkpoints import file_sha256, load_generator
from c2fdan_tf.models.face_api import load_face_api_landmarks
from c2fdan_tf.models.recognizers import load_recognizer
from c2fdan_tf.training.config import STAGE_NAMES
from c2fdan_tf.training.stages import run_stage

COMPLETION_COLUMNS = ("occluded", "predicted_mask", "c2fdan_coarse", "c2fdan", "truth")


@dataclasses.dataclass
class EvaluationSize:
    gallery_identities: int = 30
    images_per_identity: int = 5
    distractors: int = 1000
    verification_pairs: int = 300


def _log_step(log, text):
    log(f"\n=== {text} ===")


def _fresh(path, checkpoint_sha, key):
    """True when `path` (a JSON file) was made from this very checkpoint."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return False
    node = data
    for part in key:
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node == checkpoint_sha


def quality_targets(summary):
    """The main job's targets on the synthetic benchmark, from the report summary: its own,
    and the paper's ordering of Table I and Fig. 8 (occluded < coarse network (stage 1) <
    C2FDAN; C2FDAN's landmark error below the occluded input's)."""
    final, coarse = summary["c2fdan"], summary["c2fdan_coarse"]
    occluded, telea = summary["occluded"], summary["telea_predicted_mask"]
    average = lambda entry, metric: entry[metric]["average"]  # noqa: E731
    psnr = lambda entry: average(entry, "psnr")  # noqa: E731
    ssim = lambda entry: average(entry, "ssim")  # noqa: E731
    checks = {
        "mask_iou >= 0.75": (final["mask_iou"]["average"], final["mask_iou"]["average"] >= 0.75),
        "psnr >= occluded + 6 dB": (psnr(final) - psnr(occluded), psnr(final) >= psnr(occluded) + 6),
        "psnr >= Telea (predicted mask)": (psnr(final) - psnr(telea), psnr(final) >= psnr(telea)),
        "fine psnr >= coarse psnr": (psnr(final) - psnr(coarse), psnr(final) >= psnr(coarse)),
        "fine ssim >= coarse ssim": (ssim(final) - ssim(coarse), ssim(final) >= ssim(coarse)),
    }
    stage1 = summary.get("coarse_stage1")
    if stage1:
        for metric, label in (("psnr", "psnr"), ("ssim", "ssim"), ("tpir_rank1", "TPIR@1")):
            if all(metric in entry for entry in (occluded, stage1, final)):
                low, middle, high = (average(entry, metric) for entry in (occluded, stage1, final))
                checks[f"{label}: occluded < coarse (stage 1) < C2FDAN"] = (high - middle, low < middle < high)
    if all("landmark_nme" in entry for entry in (occluded, final)):
        gain = average(occluded, "landmark_nme") - average(final, "landmark_nme")
        checks["landmark error: C2FDAN < occluded"] = (gain, gain > 0)
    return {name: {"value": float(value), "met": bool(met)} for name, (value, met) in checks.items()}


def run_main_job(config, workdir, evaluation=EvaluationSize(), formats=FORMATS, log=print):
    """Runs (or resumes) the whole pipeline into `workdir`; returns the targets."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    # Seconds of each step when it was computed (a reused step keeps its earlier figure).
    try:
        earlier = json.loads((workdir / "targets.json").read_text())["seconds"]
    except (OSError, ValueError, KeyError):
        earlier = {}
    timings = {}
    for stage in STAGE_NAMES:
        _log_step(log, f"training: {stage}")
        t = time.time()
        result = run_stage(config, stage, workdir, verbose=fit_verbosity(), log=log)
        timings[stage] = result.summary.get("seconds", time.time() - t)  # as recorded in done.json
        log(f"stage {stage}: {'already finished, reused' if result.skipped else f'trained in {timings[stage]:.0f} s'}")

    checkpoint = workdir / "full" / "generator_best.keras"
    extractor_path = workdir / "extractor" / "extractor_best.keras"
    stage1_checkpoint = workdir / "coarse" / "generator_best.keras"  # Table I's coarse row
    sha = file_sha256(checkpoint)
    generator = functools.cache(lambda: load_generator(checkpoint))  # loaded only if a step needs it

    _log_step(log, "evaluation against the baselines")
    t = time.time()
    stage1_generator = functools.cache(lambda: load_generator(stage1_checkpoint))  # shared by both passes
    benchmark = functools.cache(lambda: synthetic_benchmark(
        config.data.seed, evaluation.gallery_identities, evaluation.images_per_identity,
        evaluation.distractors, evaluation.verification_pairs, occlusion_seed=config.data.seed))
    summaries, computed = {}, False
    for recognizer_name, out_dir, protocols in (
            ("project", workdir, ["reconstruction", "identification", "verification"]),
            ("face_api", workdir / "face_api", ["identification", "verification"])):
        if _fresh(out_dir / "report.json", sha, ("metadata", "checkpoint", "sha256")):
            log(f"evaluation of this checkpoint ({recognizer_name} recognizer) already done, reused")
            summaries[recognizer_name] = json.loads((out_dir / "report.json").read_text())["summary"]
            continue
        computed = True
        recognizer, description = load_recognizer(recognizer_name, extractor_path)
        log(f"identity metrics by {description['description']}")
        landmarker = load_face_api_landmarks() if "reconstruction" in protocols else None
        report = evaluate(generator(), recognizer, benchmark(), protocols, landmarker=landmarker,
                          coarse_stage1=stage1_generator())
        metadata = {
            "checkpoint": {"path": str(checkpoint), "sha256": sha, "config": generator().get_config()},
            "recognizer": description,
            "coarse_stage1": {"path": str(stage1_checkpoint), "sha256": file_sha256(stage1_checkpoint)},
            "benchmark": benchmark().describe(),
            "protocols": protocols,
            "command": "make demo",
        }
        write_report(report, list(METHODS), out_dir, metadata)
        if recognizer_name == "project":
            middle = {c.name for c in middle_size_conditions()}
            rows = [r for r in report["examples"] if r["condition"] in middle]
            Image.fromarray(example_grid(rows, columns=COMPLETION_COLUMNS)).save(workdir / "completions.png")
        summaries[recognizer_name] = report["summary"]
    summary = summaries["project"]
    if not computed:
        t -= earlier.get("evaluation", 0.0)
    timings["evaluation"] = time.time() - t

    _log_step(log, "export")
    t = time.time()
    export_dir = workdir / "export"
    if _fresh(export_dir / "manifest.json", sha, ("source", "sha256")):
        log("export of this checkpoint already done, reused")
        t -= earlier.get("export", 0.0)
    else:
        parity = occluded_faces("synth", "eval", 8, config.data.seed, benchmark=True)
        representative = occluded_faces("synth", "train", 64, config.data.seed, benchmark=False)["occluded"]
        source = {"checkpoint": str(checkpoint), "sha256": sha, "config": generator().get_config()}
        manifest = export_artifacts(generator(), export_dir, parity, formats, representative, source, log=log)
        for entry in manifest["artifacts"].values():
            log(f"  {entry['file']}: {entry['size_bytes'] / 1e6:.1f} MB, PSNR vs truth "
                f"{entry['quality']['psnr_vs_truth_db']:.2f} dB")
    timings["export"] = time.time() - t

    targets = quality_targets(summary)
    timings["total"] = sum(timings.values())
    timings["this_run"] = time.time() - start
    (workdir / "targets.json").write_text(json.dumps({"targets": targets, "seconds": timings}, indent=1))
    _log_step(log, "results")
    log(markdown_table(summary, list(METHODS)))
    log("\nIdentity metrics by face-api.js' pretrained recognizer (face_api/report.md):")
    log(markdown_table(summaries["face_api"], list(METHODS)))
    for name, result in targets.items():
        log(f"{'met    ' if result['met'] else 'NOT met'}  {name}  ({result['value']:+.3f})")
    log(f"\nEverything is in {workdir}/: report.md, plots, completions.png, examples.png, export/. "
        f"Time: {timings['total'] / 60:.1f} min in all, {timings['this_run'] / 60:.1f} min in this run.")
    return targets
