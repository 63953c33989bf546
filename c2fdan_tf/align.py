"""Aligns the faces of ordinary photos to the 112x112 template, for training folders.

    python -m c2fdan_tf.align IN_DIR OUT_DIR [--all_faces]

Keeps the sub-folder layout (one folder per identity stays one folder per
identity) and writes PNGs. Each photo contributes its most confident face (or
every face with --all_faces); photos without a face, and unreadable files, are
reported by name.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

_ALL = flags.DEFINE_bool("all_faces", False, "Write every face of a photo, not only the most confident.")


def align_folder(in_dir, out_dir, all_faces=False, log=print):
    """Returns (aligned count, [problems])."""
    from PIL import Image

    from c2fdan_tf.alignment import align, detect_faces
    from c2fdan_tf.complete import expand_inputs
    from c2fdan_tf.data.image_files import ImageReadError, read_photo

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise ValueError(f"Input folder {in_dir} does not exist.")
    paths = expand_inputs(str(in_dir))
    if not paths:
        raise ValueError(f"Input folder {in_dir} contains no images.")
    written, problems = 0, []
    for path in paths:
        try:
            photo = read_photo(path)
        except ImageReadError as error:
            problems.append(f"{error.path}: {error.reason}")
            continue
        faces = detect_faces(photo)
        if not faces:
            problems.append(f"{path}: no face found")
            continue
        relative = path.relative_to(in_dir).with_suffix("")
        for k, face in enumerate(faces if all_faces else faces[:1]):
            aligned, _ = align(photo, face.landmarks)
            target = out_dir / (f"{relative}_{k}.png" if all_faces else f"{relative}.png")
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(aligned).save(target)
            written += 1
    log(f"Aligned {written} face(s) from {len(paths)} image(s) into {out_dir}; {len(problems)} problem(s).")
    return written, problems


def main(argv):
    if len(argv) != 3:
        raise app.UsageError("usage: python -m c2fdan_tf.align IN_DIR OUT_DIR [--all_faces]")
    try:
        written, problems = align_folder(argv[1], argv[2], _ALL.value)
    except ValueError as error:
        sys.exit(f"error: {error}")
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    if written == 0:
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
