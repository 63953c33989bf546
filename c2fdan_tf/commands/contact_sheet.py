"""Writes a contact sheet PNG of the built-in synthetic faces, to look at them.

    python -m c2fdan_tf.commands.contact_sheet --out=faces.png --identities=8 --images=6 --occluded
    python -m c2fdan_tf.commands.contact_sheet --occluders --out=docs/occluders.png

Rows are identities; columns are images of that identity (expression, light,
pose, background vary); with --occluded, the same images follow with training
occlusions.
"""

import sys

from absl import app, flags

from c2fdan_tf import console

_OUT = flags.DEFINE_string("out", "synthetic_faces.png", "Output PNG path.")
_SPLIT = flags.DEFINE_enum("split", "train", ["train", "eval", "distractor"], "Which identities.")
_IDENTITIES = flags.DEFINE_integer("identities", 8, "Rows: identities.")
_IMAGES = flags.DEFINE_integer("images", 6, "Columns: images per identity.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the synthetic faces.")
_FACES = flags.DEFINE_enum("faces", "v2", ["v1", "v2"], "The renderer: v2 (the default) or v1.")
_OCCLUDED = flags.DEFINE_bool("occluded", False, "Also show the images with training occlusions.")
_OCCLUDERS = flags.DEFINE_bool("occluders", False, "Instead: every occluder family (the paper's and the wild "
                               "ones) under its benchmark conditions, with its masks (docs/occluders.png).")
console.define_verbose_flag()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from PIL import Image

    from c2fdan_tf.data.contact_sheet import contact_sheet, occluder_sheet

    if _OCCLUDERS.value:
        grid = occluder_sheet(_SEED.value)
    else:
        grid = contact_sheet(_SPLIT.value, _IDENTITIES.value, _IMAGES.value, _SEED.value, _OCCLUDED.value, _FACES.value)
    try:
        Image.fromarray(grid).save(_OUT.value)
    except OSError as error:
        sys.exit(f"error: cannot write {_OUT.value}: {error}")
    print(f"Wrote {_OUT.value} ({grid.shape[1]}x{grid.shape[0]} pixels).")


if __name__ == "__main__":
    console.start(sys.argv)
    app.run(main)
