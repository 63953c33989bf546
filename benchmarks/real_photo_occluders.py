"""A trained model on real faces under every occluder family: the two openly licensed photos
installed packages ship (scikit-image's astronaut, Eileen Collins, NASA, public domain;
matplotlib's Grace Hopper, US Navy, public domain), aligned by the project's MTCNN path,
occluded by the benchmarks' own conditions (the paper's forms and the wild families, every size
and position, several occlusion seeds), completed blind. Prints per family: mask IoU, PSNR of
the output and of the occluded input against the clean face, and the occluder left (0 = gone);
the same for Telea given C2FDAN's mask; face-api.js' recognizer's descriptor distance (1 - cosine)
of the input and of the output to the clean face (identity kept: the output's is the smaller);
and on the clean faces, the share of pixels masked.

    python benchmarks/real_photo_occluders.py --checkpoint=runs/demo/full/final.keras [--seeds=6]
    python benchmarks/real_photo_occluders.py --checkpoint=A.keras,B.keras --figure=real.png  # side by side
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from c2fdan_tf import image_metrics  # noqa: E402
from c2fdan_tf.data.benchmark_occlusions import benchmark_conditions, occlude_benchmark, wild_conditions  # noqa: E402
from c2fdan_tf.data.occluders.families import WILD_FAMILIES  # noqa: E402
from c2fdan_tf.evaluation.methods import telea  # noqa: E402
from c2fdan_tf.inference.alignment import align, detect_faces  # noqa: E402
from c2fdan_tf.inference.runners import as_runner  # noqa: E402

_CHECKPOINT = flags.DEFINE_list("checkpoint", None, "The generator(s) (.keras or exported models), measured in turn.")
_FIGURE = flags.DEFINE_string("figure", None, "Also write a PNG: each photo clean, under a subtitle and under a "
                              "watermark; per checkpoint its predicted mask and its output.")
_SEEDS = flags.DEFINE_integer("seeds", 6, "Occlusion seeds per condition.")


def real_faces():
    """The two photos' most confident faces, aligned to the 112 x 112 template (uint8)."""
    from matplotlib import cbook
    from PIL import Image
    from skimage import data

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
        hopper = np.asarray(image.convert("RGB"))
    faces = []
    for name, photo in (("astronaut", np.ascontiguousarray(data.astronaut())), ("grace_hopper", hopper)):
        found = detect_faces(photo)
        if not found:
            sys.exit(f"error: MTCNN found no face in {name}")
        faces.append(align(photo, found[0].landmarks)[0])
    return np.stack(faces)


def measure(runner, faces, conditions, seeds, embed):
    """Mean metrics over faces x conditions x seeds; `embed`: images -> L2-normalised descriptors."""
    clean = faces.astype(np.float32) / 255.0
    rows = {"iou": [], "psnr": [], "psnr_occluded": [], "left": [], "psnr_telea": [], "left_telea": []}
    occluded, masks, truth = [], [], []
    for seed in range(seeds):
        for condition in conditions:
            example = occlude_benchmark(faces, seed, condition)
            occluded.append(example["occluded"])
            masks.append(example["mask"])
            truth.append(clean)
    occluded, masks, truth = (np.concatenate(a) for a in (occluded, masks, truth))
    outputs = runner(occluded)
    filled = telea(occluded, outputs["mask"])
    rows["iou"] = float(np.mean(image_metrics.mask_iou(outputs["mask"], masks).numpy()))
    rows["psnr"] = float(np.mean(image_metrics.psnr(outputs["completed"], truth).numpy()))
    rows["psnr_occluded"] = float(np.mean(image_metrics.psnr(occluded, truth).numpy()))
    rows["psnr_telea"] = float(np.mean(image_metrics.psnr(filled, truth).numpy()))
    rows["left"] = image_metrics.occluder_residual(outputs["completed"], occluded, truth, masks)
    rows["left_telea"] = image_metrics.occluder_residual(filled, occluded, truth, masks)
    clean_descriptors = embed(truth)
    for key, images in (("distance_occluded", occluded), ("distance", outputs["completed"])):
        rows[key] = float(np.mean(1.0 - np.sum(embed(np.asarray(images)) * clean_descriptors, axis=1)))
    return rows


def figure(runners, faces, path):
    """Rows: both photos clean, under a subtitle, under a watermark (large, at the nose; seed 0);
    columns: the input, then each runner's predicted mask and output."""
    from PIL import Image

    rows = [faces.astype(np.float32) / 255.0]
    for family in ("subtitle", "watermark"):
        (condition,) = [c for c in wild_conditions((family,)) if c.position == "nose"][-1:]
        rows.append(occlude_benchmark(faces, 0, condition)["occluded"])
    inputs = np.concatenate(rows)
    columns = [inputs]
    for runner in runners:
        outputs = runner(inputs)
        columns += [np.repeat(np.asarray(outputs["mask"]).reshape(len(inputs), 112, 112, 1), 3, axis=-1),
                    np.asarray(outputs["completed"])]
    grid = np.concatenate([np.concatenate(list(column), axis=0) for column in columns], axis=1)
    Image.fromarray(np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)).save(path)
    print(f"figure: {path} (rows: clean, subtitle, watermark for each photo; columns: input, then mask and output "
          f"of {', '.join(_CHECKPOINT.value)})")


def main(argv):
    del argv
    start = time.time()
    from c2fdan_tf.evaluation.recognition import Embedder
    from c2fdan_tf.models.face_api import load_face_api_recognizer

    embed = Embedder(load_face_api_recognizer())
    faces = real_faces()
    runners = [as_runner(path) for path in _CHECKPOINT.value]
    print(f"command: python benchmarks/real_photo_occluders.py --checkpoint={','.join(_CHECKPOINT.value)} "
          f"--seeds={_SEEDS.value}")
    for path, runner in zip(_CHECKPOINT.value, runners):
        print(f"== {path}")
        measure_checkpoint(runner, faces, embed)
    if _FIGURE.value:
        figure(runners, faces, _FIGURE.value)
    print(f"({time.time() - start:.0f} s)")


def measure_checkpoint(runner, faces, embed):
    outputs = runner(faces.astype(np.float32) / 255.0)
    share = [float(np.mean(m >= 0.5)) for m in outputs["mask"]]
    print(f"clean real faces (astronaut, Grace Hopper): predicted mask on {100 * share[0]:.2f} % / "
          f"{100 * share[1]:.2f} % of the pixels; output vs untouched input "
          f"{np.mean(image_metrics.psnr(outputs['completed'], faces / 255.0).numpy()):.1f} dB")
    groups = [(form, benchmark_conditions(forms=(form,))) for form in ("rectangle", "text")]
    groups += [(family, wild_conditions((family,))) for family in WILD_FAMILIES]
    print(f"{'family':<16} {'mask IoU':>8} {'PSNR in':>8} {'C2FDAN':>8} {'Telea':>8} {'left':>6} {'left T':>6} "
          f"{'id in':>6} {'id out':>6}")
    for name, conditions in groups:
        r = measure(runner, faces, conditions, _SEEDS.value, embed)
        print(f"{name:<16} {r['iou']:8.3f} {r['psnr_occluded']:8.2f} {r['psnr']:8.2f} {r['psnr_telea']:8.2f} "
              f"{r['left']:6.3f} {r['left_telea']:6.3f} {r['distance_occluded']:6.3f} {r['distance']:6.3f}")
    print(f"({2 * _SEEDS.value} occluded faces per condition; Telea given C2FDAN's predicted mask; id in / out: "
          f"face-api descriptor distance of the occluded input / the output to the clean face)")


if __name__ == "__main__":
    flags.mark_flags_as_required(["checkpoint"])
    app.run(main)
