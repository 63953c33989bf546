"""A contact sheet of the built-in synthetic faces, to look at them.

Command line: `python -m c2fdan_tf.commands.contact_sheet --out=faces.png --identities=8 --images=6 --occluded`.

Rows are identities; columns are images of that identity (expression, light,
pose, background vary); with --occluded, the same images follow with training
occlusions.
"""


import numpy as np


def contact_sheet(split="train", identities=8, images=6, seed=0, occluded=False, faces_renderer="v2"):
    """uint8 grid (identities * 112, columns * 112, 3) of renderer `faces_renderer`'s faces."""
    from c2fdan_tf.data.face_sources import render_synthetic_split

    faces, _ = render_synthetic_split(seed, split, identities, images, faces=faces_renderer)
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


def occluder_sheet(seed=0, with_masks=True):
    """uint8 grid of every occluder family: a row per family (the paper's rectangle and text,
    then the wild families), its benchmark conditions across (both sizes x mouth, nose, eyes,
    outside) on held-out faces, each row followed by its ground-truth masks; a label column."""
    from PIL import Image, ImageDraw

    from c2fdan_tf.data.benchmark_occlusions import benchmark_conditions, occlude_benchmark, wild_conditions
    from c2fdan_tf.data.face_sources import render_synthetic_split
    from c2fdan_tf.data.occluders.assets import text_font
    from c2fdan_tf.data.occluders.families import WILD_FAMILIES

    faces, _ = render_synthetic_split(seed, "eval", 8, 1)
    paper = benchmark_conditions()
    groups = [("rectangle (paper)", [c for c in paper if c.form == "rectangle" and c.size != 0.10]),
              ("text (paper)", [c for c in paper if c.form == "text" and c.size != 0.3])]
    groups += [(family, [c for c in wild_conditions() if c.form == family]) for family in WILD_FAMILIES]
    label_width, font = 170, text_font("DejaVuSans-Bold.ttf", 15)
    rows = []
    for name, conditions in groups:
        conditions = conditions[:8]
        example = occlude_benchmark(faces[: len(conditions)], seed, conditions)
        strips = [example["occluded"]] + ([np.repeat(example["mask"], 3, axis=-1)] if with_masks else [])
        for k, strip in enumerate(strips):
            label = Image.new("RGB", (label_width, 112), (255, 255, 255))
            ImageDraw.Draw(label).text((8, 46), name if k == 0 else "  its mask", fill=(0, 0, 0), font=font)
            images = np.round(np.concatenate(list(strip), axis=1) * 255).astype(np.uint8)
            rows.append(np.concatenate([np.asarray(label), images], axis=1))
    return np.concatenate(rows, axis=0)
