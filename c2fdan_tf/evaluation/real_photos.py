"""A trained model on the real faces that installed packages ship, under every occluder family.

The photos: scikit-image's astronaut (Eileen Collins, NASA, public domain) and matplotlib's
Grace Hopper sample (US Navy, public domain), each face found and aligned to the 112 x 112
template by the project's MTCNN path. No real face data set can be shipped, so these two faces
are the project's only real-photo check of models trained on synthetic faces (the main job's
side-by-side report, benchmarks/real_photo_occluders.py, the packaged model's int8 check).
"""

import functools

import numpy as np

from c2fdan_tf import image_metrics
from c2fdan_tf.data.benchmark_occlusions import benchmark_conditions, occlude_benchmark, wild_conditions
from c2fdan_tf.data.occluders.families import WILD_FAMILIES
from c2fdan_tf.evaluation.methods import telea

PHOTOS = ("astronaut", "grace_hopper")
PAPER_FORMS = ("rectangle", "text")


def photo(name):
    """The RGB uint8 photo `name` (one of PHOTOS)."""
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut())
    if name == "grace_hopper":
        from matplotlib import cbook
        from PIL import Image

        with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
            return np.asarray(image.convert("RGB"))
    raise ValueError(f"Unknown photo {name!r}; choose from {', '.join(PHOTOS)}.")


@functools.cache
def _aligned(name):
    from c2fdan_tf.inference.alignment import align, detect_faces

    found = detect_faces(photo(name))
    if not found:
        raise ValueError(f"MTCNN found no face in the {name} photo.")
    return align(photo(name), found[0].landmarks)[0]


def aligned_real_faces(names=PHOTOS):
    """(len(names), 112, 112, 3) uint8: each photo's most confident face, aligned."""
    return np.stack([_aligned(name) for name in names])


def occluder_groups():
    """[(name, conditions)]: the paper's two forms, then every wild family (all sizes, positions)."""
    groups = [(form, benchmark_conditions(forms=(form,))) for form in PAPER_FORMS]
    return groups + [(family, wild_conditions((family,))) for family in WILD_FAMILIES]


def measure(runner, faces, conditions, seeds, embed=None):
    """Means over faces x conditions x occlusion seeds 0..seeds-1: mask IoU, PSNR of the output,
    of the occluded input and of Telea given the predicted mask against the clean face, the
    occluder left (0 = gone) after C2FDAN and after Telea; with `embed` (images -> L2-normalised
    descriptors) the descriptor distance (1 - cosine) of the input and of the output to the clean face."""
    clean = faces.astype(np.float32) / 255.0
    examples = [occlude_benchmark(faces, seed, condition) for seed in range(seeds) for condition in conditions]
    occluded = np.concatenate([e["occluded"] for e in examples])
    masks = np.concatenate([e["mask"] for e in examples])
    truth = np.concatenate([clean] * len(examples))
    outputs = runner(occluded)
    completed = np.asarray(outputs["completed"])
    filled = telea(occluded, outputs["mask"])
    mean = lambda metric, a, b: float(np.mean(metric(a, b).numpy()))  # noqa: E731
    rows = {
        "mask_iou": mean(image_metrics.mask_iou, outputs["mask"], masks),
        "psnr": mean(image_metrics.psnr, completed, truth),
        "psnr_occluded": mean(image_metrics.psnr, occluded, truth),
        "psnr_telea": mean(image_metrics.psnr, filled, truth),
        "left": image_metrics.occluder_residual(completed, occluded, truth, masks),
        "left_telea": image_metrics.occluder_residual(filled, occluded, truth, masks),
        "images": int(len(occluded)),
    }
    if embed is not None:
        clean_descriptors = embed(truth)
        for key, images in (("distance_occluded", occluded), ("distance", completed)):
            rows[key] = float(np.mean(1.0 - np.sum(embed(images) * clean_descriptors, axis=1)))
    return rows


def clean_faces_check(runner, faces):
    """On the untouched faces: each face's share of pixels masked, and the output's PSNR (dB)
    against the input (a blind tool must leave a clean face alone)."""
    clean = faces.astype(np.float32) / 255.0
    outputs = runner(clean)
    return {"mask_share": [float(np.mean(np.asarray(m) >= 0.5)) for m in outputs["mask"]],
            "psnr_vs_input": float(np.mean(image_metrics.psnr(outputs["completed"], clean).numpy()))}


def real_photo_report(runner, seeds=2, embed=None, faces=None):
    """{"clean": clean_faces_check, "families": {group: measure}} on both photos."""
    faces = aligned_real_faces() if faces is None else faces
    return {"photos": list(PHOTOS), "seeds": seeds, "clean": clean_faces_check(runner, faces),
            "families": {name: measure(runner, faces, conditions, seeds, embed)
                         for name, conditions in occluder_groups()}}


def barred_real_faces(names=PHOTOS):
    """The photos' aligned faces (float32 in [0, 1], (len(names), 112, 112, 3)) with a light,
    subtitle-like bar across the mouth: the int8 file's check against the Keras model."""
    faces = aligned_real_faces(names).astype(np.float32) / 255.0
    faces[:, 78:90, 20:92] = 0.85
    return faces


def agreement_db(runner, reference_runner, images):
    """Mean PSNR (dB) of one runner's completion against another's on the same images."""
    return float(np.mean(image_metrics.psnr(runner(images)["completed"], reference_runner(images)["completed"]).numpy()))


def comparison_table(reports):
    """Markdown: one row per occluder group (and the clean faces); per model (the keys of
    `reports`, in order) its mask IoU, PSNR and occluder left."""
    names = list(reports)
    header = ["occluder"] + [f"{part} {name}" for name in names for part in ("mask IoU", "PSNR", "left")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    groups = next(iter(reports.values()))["families"]
    for group in groups:
        cells = [group]
        for name in names:
            row = reports[name]["families"][group]
            cells += [f"{row['mask_iou']:.3f}", f"{row['psnr']:.2f}", f"{row['left']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["clean faces: % masked, PSNR vs input"]
    for name in names:
        clean = reports[name]["clean"]
        cells += [" / ".join(f"{100 * s:.2f}" for s in clean["mask_share"]), f"{clean['psnr_vs_input']:.2f}", ""]
    lines.append("| " + " | ".join(cells) + " |")
    occluded = " / ".join(f"{g} {row['psnr_occluded']:.2f}" for g, row in groups.items())
    lines.append(f"\nPSNR of the occluded input: {occluded} dB.")
    return "\n".join(lines)
