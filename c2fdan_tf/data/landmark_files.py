"""Five-point landmarks that face datasets ship, read into {image key: (5, 2) x, y}.

The key of an image is its path relative to the dataset's root, without extension, with '/'
separators (VGGFace2's `n000002/0001_01`, CelebA's `000001`). The points are in the template's
order (`face_template.TEMPLATE_ORDER`: the eye on the image's left, the other eye, the nose
tip, the mouth corner on the image's left, the other corner), as all three formats list them:

- VGGFace2 `bb_landmark/loose_landmark_{train,test}.csv`: a header
  `NAME_ID,P1X,P1Y,...,P5X,P5Y`, then `n000002/0001_01,161.7,200.1,...`;
- CelebA `list_landmarks_celeba.txt` / `list_landmarks_align_celeba.txt`: the image count,
  a header `lefteye_x lefteye_y ... rightmouth_y`, then `000001.jpg 69 109 106 113 ...`;
- a generic CSV: `path,x1,y1,...,x5,y5` per line (a header line is skipped).
"""

import csv
from pathlib import PurePosixPath

import numpy as np


def image_key(relative_path):
    """A dataset-relative path as a landmark key: posix separators, no extension."""
    return str(PurePosixPath(str(relative_path).replace("\\", "/")).with_suffix(""))


def _points(values, where):
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        raise ValueError(f"{where}: not ten numbers ({' '.join(values)[:80]}).") from None
    if len(numbers) != 10:
        raise ValueError(f"{where}: {len(numbers)} coordinates, want 10 (five x, y points).")
    return np.array(numbers, np.float64).reshape(5, 2)


def read_landmarks(path):
    """{key: (5, 2) points} from a VGGFace2 CSV, a CelebA landmarks file or a generic CSV."""
    with open(path, newline="") as handle:
        lines = handle.read().splitlines()
    if not lines:
        raise ValueError(f"{path} is empty.")
    landmarks = {}
    first = lines[0].strip()
    if first.isdigit() and len(lines) > 1 and "lefteye_x" in lines[1]:  # CelebA
        for number, line in enumerate(lines[2:], 3):
            fields = line.split()
            if fields:
                landmarks[image_key(fields[0])] = _points(fields[1:], f"{path} line {number}")
        return landmarks
    rows = csv.reader(lines)
    for number, row in enumerate(rows, 1):
        if not row or (number == 1 and not _is_number(row[-1])):
            continue  # a header (VGGFace2's NAME_ID,P1X,...)
        landmarks[image_key(row[0].strip())] = _points([v.strip() for v in row[1:]], f"{path} line {number}")
    if not landmarks:
        raise ValueError(f"{path} lists no landmarks.")
    return landmarks


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False
