"""A small fixed benchmark: the paper's 24 occlusion conditions on 12 held-out synthetic faces,
the wild benchmark's 64 on 4 of them, and those 4 faces clean (548 images; well under a minute
on a 2-core CPU). The packaged model's manifest records its figures and a test recomputes
them, so a change of the model file, the renderer, the occluders or the inference path that
moves the results is caught."""

from c2fdan_tf.data.face_renderers import DEFAULT_RENDERER
from c2fdan_tf.evaluation.benchmark_data import synthetic_benchmark
from c2fdan_tf.evaluation.runner import evaluate
from c2fdan_tf.evaluation.wild import evaluate_wild

GALLERY_IDENTITIES, IMAGES_PER_IDENTITY, WILD_IMAGES = 6, 2, 4
METHODS = ("occluded", "c2fdan")
# How far a recomputation may move each figure (float32 on another CPU, another BLAS): measured
# differences between bfloat16-free runs are far below these.
TOLERANCES = {"paper_psnr": 0.05, "paper_mask_iou": 0.005, "paper_text_left": 0.005, "wild_psnr": 0.05,
              "wild_mask_iou": 0.005, "clean_mask_share": 0.0005, "occluded_paper_psnr": 0.01}


def fixed_benchmark_figures(generator, seed=0, faces=DEFAULT_RENDERER, progress=False):
    """{figure: value} of `generator` (anything `evaluate` takes; give float32 for figures that
    reproduce across machines) on the fixed benchmark."""
    benchmark = synthetic_benchmark(seed, GALLERY_IDENTITIES, IMAGES_PER_IDENTITY, distractors=0,
                                    verification_pairs=0, occlusion_seed=seed, faces=faces)
    paper = evaluate(generator, None, benchmark, ("reconstruction",), METHODS, progress=progress)["summary"]
    wild = evaluate_wild(generator, benchmark, seed, list(METHODS), WILD_IMAGES, progress=progress)
    final, wild_final = paper["c2fdan"], wild["summary"]["c2fdan"]
    return {
        "images": len(benchmark.gallery) * len(benchmark.occluded) + len(wild["benchmark"]["conditions"]) * min(
            WILD_IMAGES, len(benchmark.gallery)) + wild["clean"]["faces"],
        "occluded_paper_psnr": paper["occluded"]["psnr"]["average"],
        "paper_psnr": final["psnr"]["average"],
        "paper_mask_iou": final["mask_iou"]["average"],
        "paper_text_left": final["occluder_residual"]["text"],
        "wild_psnr": wild_final["psnr"]["average"],
        "wild_mask_iou": wild_final["mask_iou"]["average"],
        "clean_mask_share": wild["clean"]["mask_share"],
    }


def compare_figures(measured, recorded, tolerances=TOLERANCES):
    """[(figure, measured, recorded)] of every figure further from the record than its tolerance."""
    return [(name, measured[name], recorded[name]) for name, tolerance in tolerances.items()
            if abs(measured[name] - recorded[name]) > tolerance]
