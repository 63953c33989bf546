"""Runs the paper's protocols on a benchmark for every method and condition."""

import numpy as np
from tqdm import tqdm

from c2fdan_tf import image_metrics
from c2fdan_tf.console import bars_disabled
from c2fdan_tf.data.benchmark_occlusions import Condition
from c2fdan_tf.data.occluders.families import WILD_FAMILIES
from c2fdan_tf.data.occluders.paper import FORMS, POSITIONS
from c2fdan_tf.evaluation import identification, recognition
from c2fdan_tf.data.face_sources import default_cache_dir
from c2fdan_tf.evaluation.benchmark_data import PAIR_ID_OFFSET, synthesize_conditions
from c2fdan_tf.evaluation.distractor_cache import cache_key as distractor_cache_key, cached_embeddings
from c2fdan_tf.evaluation.landmarks import LandmarkPredictor, five_point_error, normalised_mean_error
from c2fdan_tf.models.face_api.landmark_net import five_points
from c2fdan_tf.evaluation.methods import (
    DEFAULT_RECOGNIZER,
    METHODS,
    OCCLUSION_ROBUST,
    REGISTRY,
    check_methods,
    method_outputs,
    needing_generator,
    needing_recognizer,
)
from c2fdan_tf.inference.runners import GeneratorRunner, MotifRemovalRunner, as_coarse_runner, as_runner

PROTOCOLS = ("reconstruction", "identification", "verification")
CLEAN = "clean"  # the condition name of the non-occluded faces


def _batched_mean(metric, a, b, batch=256):
    values = [metric(a[s : s + batch], b[s : s + batch]).numpy() for s in range(0, len(a), batch)]
    return float(np.mean(np.concatenate(values)))


def _distractor_counts(available, max_distractors):
    limit = min(available, max_distractors) if max_distractors else available
    counts = [c for c in identification.DEFAULT_DISTRACTOR_COUNTS if c < limit]
    return counts + [limit] if limit > 0 else []


def evaluate(generator, extractor, benchmark, protocols=PROTOCOLS, methods=METHODS, max_distractors=None,
             max_rank=10, progress=True, landmarker=None, coarse_stage1=None, bvmr=None,
             occlusion_robust_extractor=None, other_recognizers=None, distractor_cache="default"):
    """Every protocol for every method; returns the report dict (without metadata).

    generator: a Keras Generator, a model path in any exported form, or an inference
    runner (unused, and may be None, when no method needs the generator).
    landmarker: a 68-point landmark model (`models.face_api`); with it, reconstruction
    also reports each method's landmark NME against the clean face's landmarks (Fig. 8).
    coarse_stage1: the coarse stage's checkpoint (any form `generator` takes), for the
    "coarse_stage1" method; bvmr: the BVMR baseline (a `BlindMotifRemoval` or its runner),
    for "bvmr"; occlusion_robust_extractor: ResNet-50-occ, the recognizer of the
    "resnet50_occ" row. A method whose network is not given is left out.
    other_recognizers: {name: recognizer}: the identification and verification protocols
    again by each of them, on the same images (computed once), in report["by_recognizer"][name]
    with its own "summary".
    distractor_cache: the folder of cached distractor embeddings (`distractor_cache`; "default":
    `<C2FDAN_CACHE>/distractor_embeddings`, None: no cache)."""
    if distractor_cache == "default":
        distractor_cache = default_cache_dir() / "distractor_embeddings"
    protocols = set(protocols)
    unknown = protocols - set(PROTOCOLS)
    if unknown:
        raise ValueError(f"Unknown protocol(s) {', '.join(sorted(unknown))}; choose from {', '.join(PROTOCOLS)}.")
    recognition_protocols = protocols & {"identification", "verification"}
    if recognition_protocols and extractor is None:
        raise ValueError("The identification and verification protocols need --extractor.")
    check_methods(methods)
    networks = {"stage1": as_coarse_runner(coarse_stage1) if coarse_stage1 is not None else None,
                "bvmr": _as_motif_removal_runner(bvmr)}
    methods = [m for m in methods if not REGISTRY[m].network or networks[REGISTRY[m].network] is not None]
    if not recognition_protocols or occlusion_robust_extractor is None:
        methods = [m for m in methods if REGISTRY[m].recognizer != OCCLUSION_ROBUST]
    runner = as_runner(generator) if needing_generator(methods) else None
    embedders = {}
    if extractor is not None:
        embedders[DEFAULT_RECOGNIZER] = recognition.Embedder(extractor)
    if needing_recognizer(methods, OCCLUSION_ROBUST):
        embedders[OCCLUSION_ROBUST] = recognition.Embedder(occlusion_robust_extractor)
    others = list(other_recognizers or {}) if recognition_protocols else []
    embedders.update({name: recognition.Embedder(other_recognizers[name]) for name in others})

    def recognizers_of(method):  # the method's recognizer first, then the others' for the same images
        recognizer = REGISTRY[method].recognizer
        return [recognizer] + (others if recognizer == DEFAULT_RECOGNIZER else [])

    gallery = benchmark.gallery.astype(np.float32) / 255.0
    occluded_methods = [m for m in methods if m != "non_occluded"]
    report = {"reconstruction": {}, "identification": {}, "verification": {}, "examples": []}
    # (method, condition) -> (embeddings of the gallery images so treated, their indices), by recognizer
    versions = {key: {} for key in embedders}
    clean_embeddings = {key: embed(gallery) for key, embed in embedders.items()}
    landmarks_of = LandmarkPredictor(landmarker) if landmarker is not None and "reconstruction" in protocols else None
    clean_landmarks = landmarks_of(gallery) if landmarks_of is not None else None
    known = benchmark.known_landmarks if landmarks_of is not None else None  # synthetic faces only
    if known is not None:  # the landmark net's own error on the clean faces: the floor of the column below
        report["clean_landmark_error_vs_renderer"] = float(np.mean(five_point_error(five_points(clean_landmarks),
                                                                                    known)))

    conditions = tqdm(benchmark.occluded, desc="conditions", unit="condition", disable=bars_disabled(progress))
    for stored in conditions:
        occluded = stored.as_float()
        name = occluded.condition.name
        truth = gallery[occluded.index]
        outputs, masks = method_outputs(runner, occluded.occluded, occluded.mask, truth, occluded_methods, networks)
        for method, images in outputs.items():
            embedded = None
            for key in recognizers_of(method) if embedders else []:
                embeddings = embedders[key](images)  # once, for both protocols
                versions[key][(method, name)] = (embeddings, occluded.index)
                embedded = embedded if embedded is not None else embeddings
            if "reconstruction" not in protocols or not REGISTRY[method].reconstructs:
                continue
            entry = {
                "psnr": _batched_mean(image_metrics.psnr, images, truth),
                "ssim": _batched_mean(image_metrics.ssim, images, truth),
            }
            residual = image_metrics.occluder_residual(images, occluded.occluded, truth, occluded.mask)
            if np.isfinite(residual):
                entry["occluder_residual"] = residual
                in_mask = image_metrics.masked_psnr(images, truth, occluded.mask).numpy()
                entry["psnr_in_mask"] = float(np.nanmean(in_mask))
            if method in masks:
                entry["mask_iou"] = _batched_mean(image_metrics.mask_iou, masks[method], occluded.mask)
                entry["mask_f1"] = _batched_mean(image_metrics.mask_f1, masks[method], occluded.mask)
            if landmarks_of is not None:
                landmarks = landmarks_of(images)
                entry["landmark_nme"] = float(np.mean(normalised_mean_error(landmarks,
                                                                            clean_landmarks[occluded.index])))
                if known is not None:
                    entry["landmark_error_vs_renderer"] = float(np.mean(five_point_error(
                        five_points(landmarks), known[occluded.index])))
            if embedded is not None:
                clean = clean_embeddings[REGISTRY[method].recognizer][occluded.index]
                entry["identity_cosine"] = float(np.mean(np.sum(embedded * clean, axis=1)))
            report["reconstruction"].setdefault(method, {})[name] = entry
        # A different gallery face on each condition's row of the example grid.
        example_index = len(report["examples"]) * 7 % len(occluded.index)
        predicted = masks.get("c2fdan", next(iter(masks.values()), None))
        shown = {m: images for m, images in outputs.items() if REGISTRY[m].reconstructs}
        report["examples"].append(_example_row(occluded, shown, predicted, truth, example_index))

    results = {key: {"reconstruction": {}, "identification": {}, "verification": {}} for key in embedders}
    if "identification" in protocols:
        for key, embed in embedders.items():
            if "non_occluded" in methods and key != OCCLUSION_ROBUST:
                versions[key][("non_occluded", CLEAN)] = (clean_embeddings[key], np.arange(len(gallery)))
            results[key]["identification"] = _identification(
                versions[key], clean_embeddings[key], benchmark, embed, max_distractors, max_rank, progress,
                distractor_cache)
    if "verification" in protocols and benchmark.pairs is not None:
        whole_gallery = all(len(o.index) == len(benchmark.gallery) for o in benchmark.occluded)
        if benchmark.pairs.images is benchmark.gallery and whole_gallery and "identification" in protocols:
            # Pairs drawn from the gallery: its occluded and completed versions are the
            # pair images under each condition; reuse their embeddings.
            for key in embedders:
                results[key]["verification"] = _verification_from_embeddings(
                    versions[key], clean_embeddings[key], benchmark.pairs,
                    methods if key != OCCLUSION_ROBUST else [])
        else:
            verification = _verification(runner, networks, embedders, recognizers_of, benchmark, methods, progress)
            for key in embedders:
                results[key]["verification"] = verification[key]
    for key in (DEFAULT_RECOGNIZER, OCCLUSION_ROBUST):
        for protocol in ("identification", "verification"):
            report[protocol].update(results.get(key, {}).get(protocol, {}))
    report["summary"] = summarize(report, methods)
    if others:
        report["by_recognizer"] = {name: {**results[name], "summary": summarize(results[name], methods)}
                                   for name in others}
    return report


def _as_motif_removal_runner(bvmr):
    if bvmr is None or isinstance(bvmr, GeneratorRunner):
        return bvmr
    return MotifRemovalRunner(bvmr)


def _example_row(occluded, outputs, predicted, truth, index=0):
    """The first image of a condition under every method, for the picture grid."""
    row = {"condition": occluded.condition.name, "occluded": occluded.occluded[index], "truth": truth[index]}
    row.update({method: images[index] for method, images in outputs.items()})
    if predicted is not None:
        row["predicted_mask"] = predicted[index]
    return row


def _identification(gallery_versions, clean_embeddings, benchmark, embed, max_distractors, max_rank, progress,
                    distractor_cache=None):
    """TPIR curves of every (method, condition) in `gallery_versions` ({key: (embeddings of
    the occluded/completed gallery images, their gallery indices)}), the clean images as
    probes (the released benchmark's protocol, `evaluation.identification`). The distractors'
    embeddings come from `distractor_cache` when it has them for this recognizer and list."""
    counts = _distractor_counts(benchmark.distractor_count, max_distractors)
    if not counts:
        raise ValueError("Identification needs distractors, and the benchmark has none.")
    chunk = 4096

    def distractor_embeddings():
        seen = 0
        bar = tqdm(total=counts[-1], desc="distractors", unit="face", disable=bars_disabled(progress))
        for images in benchmark.distractor_chunks(chunk):
            images = images[: counts[-1] - seen]
            seen += len(images)
            bar.update(len(images))
            yield embed(images)
            if seen >= counts[-1]:
                break
        bar.close()

    embeddings = distractor_embeddings()
    digest = getattr(embed, "digest", None)
    if distractor_cache is not None and benchmark.distractor_digest and digest:
        key = distractor_cache_key(digest, benchmark.distractor_digest)
        embeddings = cached_embeddings(distractor_cache, key, counts[-1], distractor_embeddings,
                                       {"distractors": benchmark.distractor_digest, "recognizer": digest})
    # The probes are clean: their distractor scores are computed once for every method.
    snapshots = identification.stream_top_k(clean_embeddings, embeddings, counts, k=max_rank)
    results = {}
    for (method, condition), (embeddings, index) in gallery_versions.items():
        scores, probe = identification.pair_scores_and_probes(
            embeddings, clean_embeddings[index], benchmark.labels[index])
        curves = {str(d): identification.tpir_at_ranks(scores, top[index[probe]], max_rank).tolist()
                  for d, top in snapshots.items()}
        results.setdefault(method, {})[condition] = curves
    return results


def _verification(runner, networks, embedders, recognizers_of, benchmark, methods, progress):
    """{recognizer: {method: {condition: accuracy}}} on the benchmark's own pairs."""
    pairs = benchmark.pairs
    images = pairs.images.astype(np.float32) / 255.0
    results = {key: {} for key in embedders}
    if "non_occluded" in methods:
        for key in recognizers_of("non_occluded"):
            results[key]["non_occluded"] = {CLEAN: _pair_accuracy(embedders[key](images), pairs)}
    conditions = [o.condition for o in benchmark.occluded]
    occluded_methods = [m for m in methods if m != "non_occluded"]
    for condition in tqdm(conditions, desc="verification", unit="condition", disable=bars_disabled(progress)):
        # Both images of a pair under the same form, size and position (each image
        # seeded on its own: "eyes" may cover the left eye of one, the right of the other).
        [version] = synthesize_conditions(
            pairs.images, benchmark.occlusion_seed, [condition], id_offset=PAIR_ID_OFFSET
        )
        outputs, _ = method_outputs(runner, version.occluded, version.mask, images, occluded_methods, networks)
        for method, completed in outputs.items():
            for key in recognizers_of(method):
                accuracy = _pair_accuracy(embedders[key](completed), pairs)
                results[key].setdefault(method, {})[condition.name] = accuracy
    return results


def _pair_accuracy(embeddings, pairs):
    similarities = pairs.scored(np.sum(embeddings[pairs.first] * embeddings[pairs.second], axis=1))
    return recognition.ten_fold_verification(similarities, pairs.same, fold_of=pairs.fold)[0]


def _verification_from_embeddings(versions, clean_embeddings, pairs, methods):
    results = {}
    if "non_occluded" in methods:
        results["non_occluded"] = {CLEAN: _pair_accuracy(clean_embeddings, pairs)}
    for (method, condition), (embeddings, index) in versions.items():
        if condition == CLEAN:
            continue
        full = np.zeros_like(clean_embeddings)
        full[index] = embeddings
        results.setdefault(method, {})[condition] = _pair_accuracy(full, pairs)
    return results


def summarize(report, methods):
    """Table I numbers: per method, averaged over sizes and positions per form, and
    the average of the forms (TPIR at rank 1 with the most distractors)."""
    summary = {}
    for method in methods:
        entry = {}
        identification_results = report["identification"].get(method, {})
        if identification_results:
            rank1 = {c: curves[max(curves, key=int)][0] for c, curves in identification_results.items()}
            entry["tpir_rank1"] = _by_form(rank1)
            entry["distractors"] = max(int(d) for curves in identification_results.values() for d in curves)
        if report["verification"].get(method):
            entry["verification"] = _by_form(report["verification"][method])
        reconstruction = report["reconstruction"].get(method, {})
        for metric in ("psnr", "ssim", "occluder_residual", "psnr_in_mask", "mask_iou", "mask_f1", "identity_cosine",
                       "landmark_nme", "landmark_error_vs_renderer"):
            values = {c: v[metric] for c, v in reconstruction.items() if metric in v}
            if values:
                entry[metric] = _by_form(values)
                if metric in BY_POSITION:
                    entry[f"{metric}_by_position"] = _by_position(values)
        summary[method] = entry
    return summary


BY_POSITION = ("psnr_in_mask", "landmark_nme")  # summarised per occlusion position too


def _by_position(values):
    """{position: mean over the forms and sizes at that position} of the occluded conditions."""
    by_position = {}
    for position in POSITIONS:
        position_values = [v for c, v in values.items() if c != CLEAN and Condition.parse(c).position == position]
        if position_values:
            by_position[position] = float(np.mean(position_values))
    return by_position


def _by_form(values):
    """{"rectangle": mean, "text": mean, "average": mean of the forms} (or {"clean": v}); on the
    wild benchmark, one entry per family and their mean."""
    if set(values) == {CLEAN}:
        return {"clean": values[CLEAN], "average": values[CLEAN]}
    by_form = {}
    for form in FORMS + WILD_FAMILIES:
        form_values = [v for c, v in values.items() if Condition.parse(c).form == form]
        if form_values:
            by_form[form] = float(np.mean(form_values))
    by_form["average"] = float(np.mean(list(by_form.values()))) if by_form else float("nan")
    return by_form
