"""Aligns the faces of ordinary photos to the 112x112 template, for training folders.

    python -m c2fdan_tf.commands.align IN_DIR OUT_DIR [--landmarks=FILE] [--workers=N]
        [--subject=centre|largest|confident] [--all_faces]

Keeps the sub-folder layout (one folder per identity stays one folder per identity) and
writes PNGs. Each photo contributes its subject's face (by default the face nearest the
centre among the large ones; every face with --all_faces) found by MTCNN, or, with
--landmarks, the five points the dataset ships (VGGFace2's loose_landmark CSV, CelebA's
landmarks file, a generic CSV; no detection). Runs on every core, skips photos already
aligned (run it again after an interruption), and lists the misses (unreadable, no face,
no landmarks) in OUT_DIR/alignment_misses.tsv.
"""

import os
import sys

from absl import app, flags

from c2fdan_tf import console

_ALL = flags.DEFINE_bool("all_faces", False, "Write every face of a photo, not only its subject.")
_LANDMARKS = flags.DEFINE_string("landmarks", None, "The dataset's five-point landmarks (VGGFace2 CSV, CelebA "
                                 "list_landmarks file, or path,x1,y1,...,x5,y5 CSV): align by them, no detection.")
_WORKERS = flags.DEFINE_integer("workers", os.cpu_count() or 1, "Worker processes (default: every core).")
_SUBJECT = flags.DEFINE_enum("subject", "centre", ["centre", "largest", "confident"],
                             "Which detected face is the photo's subject: nearest the centre among the large ones, "
                             "the largest, or the most confident.")
console.define_verbose_flag()
SHOWN_MISSES = 10


def main(argv):
    if len(argv) != 3:
        raise app.UsageError("usage: python -m c2fdan_tf.commands.align IN_DIR OUT_DIR [--landmarks=FILE] "
                             "[--workers=N] [--subject=...] [--all_faces]")
    from c2fdan_tf.inference.alignment import align_folder

    try:
        written, problems = align_folder(argv[1], argv[2], _ALL.value, landmarks=_LANDMARKS.value,
                                         subject=_SUBJECT.value, workers=max(1, _WORKERS.value), progress=True)
    except (ValueError, OSError) as error:
        sys.exit(f"error: {error}")
    for problem in problems[:SHOWN_MISSES]:
        print(f"skipped {problem}", file=sys.stderr)
    if len(problems) > SHOWN_MISSES:
        print(f"... and {len(problems) - SHOWN_MISSES} more (alignment_misses.tsv)", file=sys.stderr)
    if written == 0 and problems:
        sys.exit(1)


if __name__ == "__main__":
    console.start(sys.argv)
    app.run(main)
