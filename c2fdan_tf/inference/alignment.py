"""Face detection and alignment to the 112x112 template, and pasting results back.

MTCNN (the paper's own alignment, Sec. IV-A; the `mtcnn` package ships its
weights) finds faces and five landmarks; a similarity transform (rotation,
uniform scale, translation; Umeyama's least squares) maps them onto the template
of `face_template.LANDMARKS`. After completion, the result is warped back and
blended into the photo only where the predicted mask is on: every pixel outside
it keeps its exact original value.
"""

import dataclasses
import functools
from pathlib import Path

import cv2
import numpy as np

from c2fdan_tf.face_template import IMAGE_SIZE, LANDMARKS, TEMPLATE_ORDER

MIN_CONFIDENCE = 0.9  # MTCNN's score below which a detection is not taken for a face
_MTCNN_KEYS = {"left_eye": "left_eye", "right_eye": "right_eye", "nose": "nose",
               "left_mouth": "mouth_left", "right_mouth": "mouth_right"}
TEMPLATE = np.array([LANDMARKS[name] for name in TEMPLATE_ORDER], np.float64)


@dataclasses.dataclass
class DetectedFace:
    box: tuple  # (x, y, width, height) in the photo
    confidence: float
    landmarks: np.ndarray  # (5, 2) x, y in TEMPLATE_ORDER


@functools.lru_cache(maxsize=1)
def _detector():
    from mtcnn import MTCNN

    return MTCNN()


def detect_faces(photo, min_confidence=MIN_CONFIDENCE):
    """Faces in an RGB uint8 photo, most confident first."""
    faces = []
    for found in _detector().detect_faces(np.asarray(photo, np.uint8)):
        if found["confidence"] < min_confidence:
            continue
        points = np.array([found["keypoints"][_MTCNN_KEYS[name]] for name in TEMPLATE_ORDER], np.float64)
        faces.append(DetectedFace(tuple(int(v) for v in found["box"]), float(found["confidence"]), points))
    return sorted(faces, key=lambda f: -f.confidence)


def similarity_transform(source, target):
    """2x3 matrix of the similarity transform that best maps source points onto
    target points in the least-squares sense (Umeyama 1991)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mean_s, mean_t = source.mean(0), target.mean(0)
    s, t = source - mean_s, target - mean_t
    covariance = t.T @ s / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / s.var(0).sum()
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mean_t - scale * rotation @ mean_s
    return matrix


def align(photo, landmarks):
    """(aligned 112x112 RGB uint8, 2x3 photo->aligned matrix)."""
    matrix = similarity_transform(landmarks, TEMPLATE)
    aligned = cv2.warpAffine(np.asarray(photo, np.uint8), matrix, (IMAGE_SIZE, IMAGE_SIZE),
                             flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
    return aligned, matrix


def paste_back(photo, completed, mask, matrix, threshold=0.5, grow=2):
    """Blends a completed aligned face into the photo where its mask is on.

    The mask (aligned, in [0, 1]) is binarised at `threshold`, grown by `grow`
    pixels (the completion's seam lies inside it) and warped back with bilinear
    edges; outside it the photo's pixels are returned exactly. Returns the new
    photo (uint8) and the mask in photo coordinates (float in [0, 1]).
    """
    photo = np.asarray(photo, np.uint8)
    height, width = photo.shape[:2]
    binary = (np.asarray(mask).reshape(IMAGE_SIZE, IMAGE_SIZE) > threshold).astype(np.uint8)
    if grow:
        binary = cv2.dilate(binary, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    inverse = cv2.invertAffineTransform(matrix)
    photo_mask = cv2.warpAffine(binary.astype(np.float32), inverse, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    face = np.round(np.clip(completed, 0, 1) * 255).astype(np.uint8) if completed.dtype != np.uint8 else completed
    warped = cv2.warpAffine(face, inverse, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
    blend = photo * (1.0 - photo_mask[..., None]) + warped * photo_mask[..., None]
    result = np.where(photo_mask[..., None] > 0, np.clip(np.round(blend), 0, 255), photo).astype(np.uint8)
    return result, photo_mask


def align_folder(in_dir, out_dir, all_faces=False, log=print):
    """Aligns the most confident face (or every face) of each photo under `in_dir` into
    `out_dir`, keeping sub-folders. Returns (aligned count, [problems])."""
    from PIL import Image

    from c2fdan_tf.data.image_files import ImageReadError, list_image_files, read_photo

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise ValueError(f"Input folder {in_dir} does not exist.")
    paths = list_image_files(in_dir)
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
