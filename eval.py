"""Evaluates a C2FDAN generator with the paper's protocols, against baselines.

    python eval.py --checkpoint=runs/mine/full/generator_best.keras \\
                   --extractor=runs/mine/extractor/extractor_best.keras --out=runs/mine/eval

Reconstruction (PSNR, SSIM, mask IoU/F1, identity similarity), MegaFace-style
identification (TPIR at ranks 1-10 against D distractors, the released benchmark's
protocol: the occluded image in the gallery, the probe clean) and LFW-style
verification (10 folds, both images occluded alike), for every form x size x
position, comparing non-occluded, occluded, BVMR, ResNet-50-occ (recognition only), the
stage-1 coarse network, C2FDAN (coarse and final) and OpenCV Telea inpainting with the
true and the predicted mask. The baselines' checkpoints are found in the checkpoint's work
directory (bvmr/, extractor_occ/, coarse/) or given by flags.
Writes report.json, report.md, plots and an example grid into --out.

Ablation (Table I): several comma-separated checkpoints are evaluated on the same
benchmark; the baselines once; each checkpoint's report goes into --out/<name>/
and one table of all of them into --out/ablation.md.
"""

import dataclasses
import sys
import time

from absl import app, flags

from c2fdan_tf import console
from c2fdan_tf.data.face_renderers import DEFAULT_RENDERER
from c2fdan_tf.precision import PRECISIONS

_CHECKPOINT = flags.DEFINE_list("checkpoint", None, "Generator checkpoint(s) (.keras); several = ablation.")
_ABLATION_TABLE = flags.DEFINE_bool("ablation_table", False, "Write OUT/<checkpoint>/ and OUT/ablation.md even for "
                                    "one checkpoint (ablation.py with one row).")
_RECOGNIZER = flags.DEFINE_enum("recognizer", "project", ["project", "face_api"],
                                "Face recognizer of the identity metrics: the project's --extractor, or "
                                "face-api.js' pretrained net (README, 'Pretrained face models').")
_COARSE_CHECKPOINT = flags.DEFINE_string(
    "coarse_checkpoint", None, "The coarse stage's checkpoint, Table I's 'coarse network (stage 1)' row "
    "(default: coarse/generator_best.keras beside the first checkpoint's stage folder, if there is one).")
_BVMR_CHECKPOINT = flags.DEFINE_string(
    "bvmr_checkpoint", None, "The BVMR baseline (train.py --stage=bvmr; default: bvmr/bvmr_best.keras beside "
    "the first checkpoint's stage folder, if there is one).")
_EXTRACTOR_OCC = flags.DEFINE_string(
    "extractor_occ", None, "ResNet-50-occ, the recognizer of its row (train.py --stage=extractor_occ; default: "
    "extractor_occ/extractor_best.keras beside the first checkpoint's stage folder, if there is one).")
_LANDMARKS = flags.DEFINE_bool("landmarks", True, "Reconstruction: the landmark error of Fig. 8, by face-api.js' "
                                "68-point net (README, 'Pretrained face models').")
_EXTRACTOR = flags.DEFINE_string("extractor", None, "Face feature extractor (.keras) of --recognizer=project.")
_DATA = flags.DEFINE_string("data", "synth", "synth (held-out synthetic identities) or a folder with identity sub-folders.")
_FACES = flags.DEFINE_string("faces", DEFAULT_RENDERER, "--data=synth: the built-in faces' renderer, v2 (the "
                             "default) or v1 (the first releases' flat faces).")
_BENCHMARK = flags.DEFINE_list("benchmark", ["paper", "wild"],
                                "paper: the paper's occlusions under every protocol (Table I); wild: the "
                                "reconstruction protocol on the wild occluder families (into OUT/wild/).")
_WILD_IMAGES = flags.DEFINE_integer("wild_images", None, "Wild benchmark: use the first N gallery faces (default all).")
_PROTOCOL = flags.DEFINE_list("protocol", ["reconstruction", "identification", "verification"], "Protocols to run.")
_OUT = flags.DEFINE_string("out", None, "Output folder.")
_MAX_DISTRACTORS = flags.DEFINE_integer("max_distractors", None, "Use at most this many distractors.")
_DISTRACTOR_CACHE = flags.DEFINE_string(
    "distractor_cache", "default", "Folder of the distractors' embeddings, kept per recognizer and distractor "
    "list and reused by later methods, rows and runs (default: $C2FDAN_CACHE/distractor_embeddings; none: off).")
_METHODS = flags.DEFINE_list("methods", None, "Subset of the compared methods (default: all).")
_GALLERY_IDS = flags.DEFINE_integer("gallery_identities", 40, "Gallery identities (synth / folder).")
_IMAGES_PER_ID = flags.DEFINE_integer("images_per_identity", 6, "Synth: images per gallery identity.")
_DISTRACTORS = flags.DEFINE_integer("distractors", 2000, "Synth: distractor faces to render.")
_PAIRS = flags.DEFINE_integer("verification_pairs", 600, "Synth / folder: verification pairs.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the synthetic identities and of the benchmark occlusions.")
_MEGAFACE_OCCLUDED = flags.DEFINE_string("megaface_occluded", None, "The authors' occluded FaceScrub set.")
_MEGAFACE_CLEAN = flags.DEFINE_string("megaface_clean", None, "Clean aligned FaceScrub faces (<identity>/<file>).")
_MEGAFACE_DISTRACTORS = flags.DEFINE_string("megaface_distractors", None, "Folder of aligned distractor faces.")
_DISTRACTORS_DIR = flags.DEFINE_string(
    "distractors_dir", None, "--data=FOLDER: a folder of aligned faces of other people, the identification "
    "distractors (default: one image of every identity beyond --gallery_identities).")
_DISTRACTOR_LIST = flags.DEFINE_string(
    "distractor_list", None, "The distractors to use, in order: a MegaFace devkit list (megaface_features_list.json_<D>_1) "
    "or a text file of paths relative to the distractor folder (default: every image in it).")
_DISTRACTOR_NOISES = flags.DEFINE_string(
    "distractor_noises", None, "A noise list (insightface's megaface_noises.txt: paths relative to the distractor "
    "folder): those distractors are left out.")
_ALLOW_UNALIGNED = flags.DEFINE_bool("allow_unaligned", False, "Evaluate on faces that are mostly not 112x112 "
                                     "(centre-cropped and resized instead of aligned); refused without it.")
_LFW_ROOT = flags.DEFINE_string("lfw_root", None, "Aligned LFW faces (<name>/<name>_<nnnn>.jpg).")
_LFW_PAIRS = flags.DEFINE_string("lfw_pairs", None, "LFW pairs.txt.")
_VERIFICATION_BIN = flags.DEFINE_list(
    "verification_bin", [], "insightface verification sets (lfw.bin,cfp_fp.bin,agedb_30.bin, ...): the first one's "
    "pairs for the verification protocol, instead of --lfw_root/--lfw_pairs; each further set is verified too, "
    "into OUT/<set>/.")
_PRECISION = flags.DEFINE_enum("precision", "float32", PRECISIONS,
                               "Compute precision of the generators (float32: the reference measurement).")
console.define_verbose_flag()


def open_benchmark():
    from c2fdan_tf.evaluation import benchmark_data

    if _MEGAFACE_OCCLUDED.value:
        if not (_MEGAFACE_CLEAN.value and _MEGAFACE_DISTRACTORS.value):
            raise ValueError("--megaface_occluded needs --megaface_clean and --megaface_distractors too.")
        benchmark = benchmark_data.megaface_occluded_benchmark(
            _MEGAFACE_OCCLUDED.value, _MEGAFACE_CLEAN.value, _MEGAFACE_DISTRACTORS.value, _MAX_DISTRACTORS.value,
            _DISTRACTOR_LIST.value, _DISTRACTOR_NOISES.value)
    elif _DATA.value == "synth":
        # Distractors and pairs only for the protocols that use them (2,000 faces: ~16 s to render);
        # the wild benchmark uses the gallery alone.
        paper = "paper" in _BENCHMARK.value
        distractors = _DISTRACTORS.value if paper and "identification" in _PROTOCOL.value else 0
        pairs = _PAIRS.value if paper and "verification" in _PROTOCOL.value else 0
        benchmark = benchmark_data.synthetic_benchmark(
            _SEED.value, _GALLERY_IDS.value, _IMAGES_PER_ID.value, distractors, pairs,
            occlusion_seed=_SEED.value, faces=_FACES.value)
    else:
        benchmark = benchmark_data.folder_benchmark(
            _DATA.value, _GALLERY_IDS.value, _PAIRS.value, occlusion_seed=_SEED.value, seed=_SEED.value,
            distractors_dir=_DISTRACTORS_DIR.value, distractor_list=_DISTRACTOR_LIST.value,
            distractor_noises=_DISTRACTOR_NOISES.value, allow_unaligned=_ALLOW_UNALIGNED.value)
    if _LFW_ROOT.value or _LFW_PAIRS.value:
        if not (_LFW_ROOT.value and _LFW_PAIRS.value):
            raise ValueError("LFW needs both --lfw_root and --lfw_pairs.")
        benchmark.pairs = benchmark_data.lfw_pairs(_LFW_ROOT.value, _LFW_PAIRS.value, _ALLOW_UNALIGNED.value)
        benchmark.name += f"; verification: LFW {_LFW_ROOT.value} ({_LFW_PAIRS.value})"  # the report's title
    if _VERIFICATION_BIN.value:
        if _LFW_ROOT.value:
            raise ValueError("Give --verification_bin or --lfw_root/--lfw_pairs, not both.")
        benchmark.pairs = benchmark_data.verification_bin_pairs(_VERIFICATION_BIN.value[0])
        benchmark.name += f"; verification: {_VERIFICATION_BIN.value[0]}"
    return benchmark


def check_protocol_inputs(benchmark, protocols):
    """ValueError, before any work, naming the flag that supplies what a protocol lacks."""
    if "identification" in protocols and not benchmark.distractor_count:
        raise ValueError(
            f"identification needs distractors and {benchmark.name} has no identity beyond the "
            f"--gallery_identities={_GALLERY_IDS.value} of the gallery: pass --distractors_dir=DIR (aligned faces "
            "of other people), lower --gallery_identities, or leave it out with "
            "--protocol=reconstruction,verification.")
    if "verification" in protocols and benchmark.pairs is None:
        drawn = "" if _MEGAFACE_OCCLUDED.value else ", set --verification_pairs above 0"
        raise ValueError("verification needs pairs: pass --lfw_root=DIR --lfw_pairs=pairs.txt or "
                         f"--verification_bin=lfw.bin{drawn}, or leave it out with "
                         "--protocol=reconstruction,identification.")


# method -> (its flag, the stage that trains its network)
BASELINE_CHECKPOINTS = {
    "coarse_stage1": (_COARSE_CHECKPOINT, "coarse"),
    "bvmr": (_BVMR_CHECKPOINT, "bvmr"),
    "resnet50_occ": (_EXTRACTOR_OCC, "extractor_occ"),
}


def baseline_checkpoint(method, first_checkpoint, requested):
    """The checkpoint of a baseline row: its flag, or the work directory's stage checkpoint,
    or None (the row is left out) -- a ValueError naming the stage to train when the row was
    asked for by --methods."""
    from pathlib import Path

    from c2fdan_tf.training.workdir import stage_checkpoint

    flag, stage = BASELINE_CHECKPOINTS[method]
    if flag.value:
        return flag.value
    stage_dir = Path(first_checkpoint).resolve().parent
    found = stage_checkpoint(stage_dir.parent, stage)
    if stage_dir.name != stage and found.exists():
        return str(found)
    if requested:
        raise ValueError(f"the {method} row needs a checkpoint of train.py --stage={stage} in the checkpoint's work "
                         f"directory ({found} does not exist), or --{flag.name}=PATH.")
    return None


def checkpoint_name(path):
    """A short, unique-enough name: the run and stage folders of the checkpoint."""
    from pathlib import Path

    parts = Path(path).resolve().parts
    return "_".join(parts[-3:-1]) if len(parts) >= 3 else Path(path).stem


def describe_checkpoint(path):
    """The Table I configuration of a checkpoint, from the config.json beside it."""
    from pathlib import Path

    from c2fdan_tf.training.config import load_config

    config_path = Path(path).parent / "config.json"
    if not config_path.exists():
        return ""
    stage = Path(path).parent.name
    if stage == "coarse":
        return "coarse stage: pixel-wise losses only"
    config = load_config(config_path)
    losses = config.losses.full
    terms = [name for name in ("perceptual", "style", "occluded", "adversarial") if getattr(losses, name)]
    star = "*" if losses.occluded_on_fine else ""
    return f"attention {config.model.attention}, losses: {', '.join(terms)}{star}"


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    from pathlib import Path

    from c2fdan_tf.evaluation import benchmark_data
    from c2fdan_tf.evaluation.methods import METHODS, check_methods, needing_generator
    from c2fdan_tf.evaluation.report import ablation_table, markdown_table, write_report
    from c2fdan_tf.evaluation.runner import PROTOCOLS, evaluate
    from c2fdan_tf.models.checkpoints import (
        CheckpointError,
        file_sha256,
        load_extractor,
        load_generator,
        load_motif_removal,
    )
    from c2fdan_tf.models.recognizers import load_recognizer
    from c2fdan_tf.precision import resolve_precision

    start = time.time()
    try:
        unknown = set(_PROTOCOL.value) - set(PROTOCOLS)
        if unknown:
            raise ValueError(f"Unknown protocol(s) {', '.join(sorted(unknown))}; choose from {', '.join(PROTOCOLS)}.")
        from c2fdan_tf.evaluation.wild import BENCHMARKS, TABLE_METHODS, evaluate_wild, write_wild_report

        unknown = set(_BENCHMARK.value) - set(BENCHMARKS)
        if unknown or not _BENCHMARK.value:
            raise ValueError(f"Unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}.")
        methods = check_methods(_METHODS.value or METHODS)
        checkpoints = _CHECKPOINT.value
        policy, reason = resolve_precision(_PRECISION.value)
        print(f"precision: {policy} ({reason})")
        generators = [load_generator(path, policy) for path in checkpoints]  # fail early on any bad one
        baselines = {method: baseline_checkpoint(method, checkpoints[0], bool(_METHODS.value) and method in methods)
                     for method in BASELINE_CHECKPOINTS if method in methods}
        for method, (flag, stage) in BASELINE_CHECKPOINTS.items():
            if method in baselines:
                print(f"{method} row: {baselines[method] or f'left out: no {stage} stage checkpoint (--{flag.name})'}")
        stage1_path, bvmr_path, occ_path = (baselines.get(m) for m in BASELINE_CHECKPOINTS)
        coarse_stage1 = load_generator(stage1_path, policy) if stage1_path else None
        bvmr = load_motif_removal(bvmr_path, policy) if bvmr_path else None
        extractor_occ = load_extractor(occ_path) if occ_path else None
        needs_recognizer = set(_PROTOCOL.value) & {"identification", "verification"}
        extractor, recognizer = None, {"name": None, "description": "none"}
        if needs_recognizer or _EXTRACTOR.value or _RECOGNIZER.value != "project":
            extractor, recognizer = load_recognizer(_RECOGNIZER.value, _EXTRACTOR.value)
        print(f"recognizer: {recognizer['description']}")
        landmarker = None
        if _LANDMARKS.value and "reconstruction" in _PROTOCOL.value:
            from c2fdan_tf.models.face_api import load_face_api_landmarks

            landmarker = load_face_api_landmarks()
        benchmark = open_benchmark()
        if "paper" in _BENCHMARK.value:
            check_protocol_inputs(benchmark, _PROTOCOL.value)
        further_sets = [(Path(path).stem, benchmark_data.verification_bin_pairs(path))
                        for path in _VERIFICATION_BIN.value[1:]] if "verification" in _PROTOCOL.value else []
        ablation = len(checkpoints) > 1 or _ABLATION_TABLE.value
        rows = []
        for i, (path, generator) in enumerate(zip(checkpoints, generators)):
            # The baselines do not depend on the checkpoint: evaluate them once.
            run_methods = methods if i == 0 else needing_generator(methods)
            cache = {"default": "default", "none": None}.get(_DISTRACTOR_CACHE.value, _DISTRACTOR_CACHE.value)
            out = Path(_OUT.value) / checkpoint_name(path) if ablation else Path(_OUT.value)
            metadata = {
                "checkpoint": {"path": path, "sha256": file_sha256(path), "config": generator.get_config(),
                               "description": describe_checkpoint(path)},
                "recognizer": recognizer,
                "baselines": {method: {"path": path, "sha256": file_sha256(path) if path else None}
                              for method, path in baselines.items()},
                "benchmark": benchmark.describe(),
                "protocols": list(_PROTOCOL.value),
                "precision": policy,
                "command": " ".join(sys.argv),
            }
            if "wild" in _BENCHMARK.value:
                wild_methods = [m for m in run_methods if m in TABLE_METHODS]
                wild = evaluate_wild(generator, benchmark, _SEED.value, wild_methods, _WILD_IMAGES.value,
                                     coarse_stage1=coarse_stage1, bvmr=bvmr)
                wild_md = write_wild_report(wild, out / "wild", {**metadata, "protocols": ["reconstruction"],
                                                                 "seconds": time.time() - start})
                print(wild_md.read_text())
            if "paper" not in _BENCHMARK.value:
                continue
            report = evaluate(generator, extractor, benchmark, _PROTOCOL.value, run_methods, _MAX_DISTRACTORS.value,
                              landmarker=landmarker, coarse_stage1=coarse_stage1, bvmr=bvmr,
                              occlusion_robust_extractor=extractor_occ, distractor_cache=cache)
            metadata["seconds"] = time.time() - start
            path_md = write_report(report, run_methods, out, metadata)
            for name, pairs in further_sets:  # every further verification set: a report of its own
                verified = dataclasses.replace(benchmark, pairs=pairs, name=f"verification: {name}")
                extra = evaluate(generator, extractor, verified, ["verification"], run_methods, coarse_stage1=coarse_stage1,
                                 bvmr=bvmr, occlusion_robust_extractor=extractor_occ)
                write_report(extra, run_methods, out / name, {**metadata, "benchmark": verified.describe(),
                                                             "protocols": ["verification"]})
                print(f"Verification on {name}: {out / name / 'report.md'}")
            rows.append((checkpoint_name(path), describe_checkpoint(path), report["summary"], run_methods))
            if not ablation:
                print(markdown_table(report["summary"], run_methods))
                print(f"Report: {path_md} ({time.time() - start:.0f} s)")
        if ablation and rows:
            table = ablation_table(rows)
            (Path(_OUT.value) / "ablation.md").write_text(table + "\n")
            print(table)
            print(f"Ablation table: {Path(_OUT.value) / 'ablation.md'} ({time.time() - start:.0f} s)")
    except (ValueError, CheckpointError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    console.start(sys.argv)
    flags.mark_flags_as_required(["checkpoint", "out"])
    app.run(main)
