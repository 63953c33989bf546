"""Writes a contact sheet PNG of the built-in synthetic faces, to look at them.

    python -m c2fdan_tf.data.contact_sheet --out=faces.png --identities=8 --images=6 --occluded

Rows are identities; columns are images of that identity (expression, light,
pose, background vary); with --occluded, the same images follow with training
occlusions.
"""

import os
import sys

import numpy as np
from PIL import Image


def contact_sheet(split="train", identities=8, images=6, seed=0, occluded=False):
    """uint8 grid (identities * 112, columns * 112, 3)."""
    from c2fdan_tf.data.face_sources import render_synthetic_split

    faces, _ = render_synthetic_split(seed, split, identities, images)
    columns = [faces]
    if occluded:
        import tensorflow as tf

        from c2fdan_tf.data.occlusion import OcclusionSynthesizer

        synthesizer = OcclusionSynthesizer()
        params = synthesizer.training_parameters(seed, tf.range(len(faces), dtype=tf.int64))
        params["flip"] = tf.zeros_like(params["flip"])
        occluded_faces = synthesizer.occlude(tf.constant(faces), params)["occluded"].numpy()
        columns.append(np.round(occluded_faces * 255).astype(np.uint8))
    grid = np.concatenate([c.reshape(identities, images, 112, 112, 3) for c in columns], axis=1)
    rows, cols = grid.shape[:2]
    return grid.transpose(0, 2, 1, 3, 4).reshape(rows * 112, cols * 112, 3)


def main(argv):
    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    f = flags.FLAGS
    grid = contact_sheet(f.split, f.identities, f.images, f.seed, f.occluded)
    try:
        Image.fromarray(grid).save(f.out)
    except OSError as error:
        sys.exit(f"error: cannot write {f.out}: {error}")
    print(f"Wrote {f.out} ({grid.shape[1]}x{grid.shape[0]} pixels).")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from absl import app, flags

    flags.DEFINE_string("out", "synthetic_faces.png", "Output PNG path.")
    flags.DEFINE_enum("split", "train", ["train", "eval", "distractor"], "Which identities.")
    flags.DEFINE_integer("identities", 8, "Rows: identities.")
    flags.DEFINE_integer("images", 6, "Columns: images per identity.")
    flags.DEFINE_integer("seed", 0, "Seed of the synthetic faces.")
    flags.DEFINE_bool("occluded", False, "Also show the images with training occlusions.")
    app.run(main)
