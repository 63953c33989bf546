"""Throughput of dataset alignment (`python -m c2fdan_tf.commands.align`): MTCNN detection
against the landmarks a dataset ships (`--landmarks`), with 1 and 2 worker processes.

    python benchmarks/alignment_throughput.py [--photos=96]

The photos are crops of the two real photos installed packages ship (scikit-image's
astronaut, matplotlib's Grace Hopper), shifted and scaled, 250x250 like LFW's; their
landmarks file is written from one MTCNN pass first (untimed). Worker processes start from a
fork server and load TensorFlow, so their start-up (a few seconds) is in the figures.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib.cbook  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
from PIL import Image  # noqa: E402

from c2fdan_tf.inference.alignment import align_folder, choose_subject, detect_faces  # noqa: E402


def make_photos(folder, count):
    sources = [skimage.data.astronaut(),
               np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))]
    rng = np.random.default_rng(0)
    rows = []
    for n in range(count):
        source = sources[n % 2]
        side = int(min(source.shape[:2]) * rng.uniform(0.8, 1.0))
        y = rng.integers(0, source.shape[0] - side + 1)
        x = rng.integers(0, source.shape[1] - side + 1)
        photo = np.asarray(Image.fromarray(source[y:y + side, x:x + side]).resize((250, 250), Image.Resampling.BILINEAR))
        path = folder / f"person{n % 8}" / f"{n:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo).save(path, quality=95)
        faces = detect_faces(photo)
        if faces:
            points = choose_subject(faces, photo.shape).landmarks
            rows.append(f"{path.relative_to(folder)}," + ",".join(f"{v:.2f}" for v in points.reshape(-1)))
    landmarks = folder.parent / "landmarks.csv"
    landmarks.write_text("\n".join(rows) + "\n")
    return landmarks, len(rows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=96)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        landmarks, found = make_photos(root / "photos", args.photos)
        print(f"{args.photos} photos of 250x250 ({found} with a face MTCNN finds); {os.cpu_count()} cores")
        print(f"{'path':<28} {'workers':>7} {'photos/s':>9} {'ms/photo':>9}")
        for name, options in (("MTCNN detection", {}), ("dataset landmarks", {"landmarks": str(landmarks)})):
            for workers in (1, 2):
                out = root / f"out-{name[:5]}-{workers}"
                start = time.perf_counter()
                align_folder(root / "photos", out, workers=workers, chunk=8, log=lambda line: None, **options)
                seconds = time.perf_counter() - start
                print(f"{name:<28} {workers:>7} {args.photos / seconds:9.1f} {1000 * seconds / args.photos:9.1f}")


if __name__ == "__main__":
    main()
