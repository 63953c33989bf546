"""A contact sheet of the built-in synthetic faces, to look at them.

Command line: `python -m c2fdan_tf.commands.contact_sheet --out=faces.png --identities=8 --images=6 --occluded`.

Rows are identities; columns are images of that identity (expression, light,
pose, background vary); with --occluded, the same images follow with training
occlusions.
"""


import numpy as np


def contact_sheet(split="train", identities=8, images=6, seed=0, occluded=False):
    """uint8 grid (identities * 112, columns * 112, 3)."""
    from c2fdan_tf.data.face_sources import render_synthetic_split

    faces, _ = render_synthetic_split(seed, split, identities, images)
    columns = [faces]
    if occluded:
        import tensorflow as tf

        from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer

        synthesizer = OcclusionSynthesizer()
        params = synthesizer.training_parameters(seed, tf.range(len(faces), dtype=tf.int64))
        params["flip"] = tf.zeros_like(params["flip"])
        occluded_faces = synthesizer.occlude(tf.constant(faces), params)["occluded"].numpy()
        columns.append(np.round(occluded_faces * 255).astype(np.uint8))
    grid = np.concatenate([c.reshape(identities, images, 112, 112, 3) for c in columns], axis=1)
    rows, cols = grid.shape[:2]
    return grid.transpose(0, 2, 1, 3, 4).reshape(rows * 112, cols * 112, 3)
