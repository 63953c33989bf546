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
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from c2fdan_tf.data.benchmark_occlusions import occlude_benchmark, wild_conditions  # noqa: E402
from c2fdan_tf.evaluation.real_photos import aligned_real_faces, real_photo_report  # noqa: E402
from c2fdan_tf.inference.runners import as_runner  # noqa: E402

_CHECKPOINT = flags.DEFINE_list("checkpoint", None, "The generator(s) (.keras or exported models), measured in turn.")
_FIGURE = flags.DEFINE_string("figure", None, "Also write a PNG: each photo clean, under a subtitle and under a "
                              "watermark; per checkpoint its predicted mask and its output.")
_SEEDS = flags.DEFINE_integer("seeds", 6, "Occlusion seeds per condition.")


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
    faces = aligned_real_faces()
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
    report = real_photo_report(runner, _SEEDS.value, embed, faces)
    share, clean = report["clean"]["mask_share"], report["clean"]["psnr_vs_input"]
    print(f"clean real faces (astronaut, Grace Hopper): predicted mask on {100 * share[0]:.2f} % / "
          f"{100 * share[1]:.2f} % of the pixels; output vs untouched input {clean:.1f} dB")
    print(f"{'family':<16} {'mask IoU':>8} {'PSNR in':>8} {'C2FDAN':>8} {'Telea':>8} {'left':>6} {'left T':>6} "
          f"{'id in':>6} {'id out':>6}")
    for name, r in report["families"].items():
        print(f"{name:<16} {r['mask_iou']:8.3f} {r['psnr_occluded']:8.2f} {r['psnr']:8.2f} {r['psnr_telea']:8.2f} "
              f"{r['left']:6.3f} {r['left_telea']:6.3f} {r['distance_occluded']:6.3f} {r['distance']:6.3f}")
    print(f"({2 * _SEEDS.value} occluded faces per condition; Telea given C2FDAN's predicted mask; id in / out: "
          f"face-api descriptor distance of the occluded input / the output to the clean face)")


if __name__ == "__main__":
    flags.mark_flags_as_required(["checkpoint"])
    app.run(main)
