"""Aligns the faces of ordinary photos to the 112x112 template, for training folders.

    python -m c2fdan_tf.commands.align IN_DIR OUT_DIR [--all_faces]

Keeps the sub-folder layout (one folder per identity stays one folder per
identity) and writes PNGs. Each photo contributes its most confident face (or
every face with --all_faces); photos without a face, and unreadable files, are
reported by name.
"""

import sys

from absl import app, flags

from c2fdan_tf import console

_ALL = flags.DEFINE_bool("all_faces", False, "Write every face of a photo, not only the most confident.")
console.define_verbose_flag()


def main(argv):
    if len(argv) != 3:
        raise app.UsageError("usage: python -m c2fdan_tf.commands.align IN_DIR OUT_DIR [--all_faces]")
    from c2fdan_tf.inference.alignment import align_folder

    try:
        written, problems = align_folder(argv[1], argv[2], _ALL.value)
    except ValueError as error:
        sys.exit(f"error: {error}")
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    if written == 0:
        sys.exit(1)


if __name__ == "__main__":
    console.start(sys.argv)
    app.run(main)
