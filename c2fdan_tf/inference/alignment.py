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
import os
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


def align_mask(mask, matrix):
    """A photo-sized mask (float, [0, 1]) warped into the aligned 112x112 frame of `matrix`
    (bilinear; 0 where the square leaves the photo)."""
    return cv2.warpAffine(np.asarray(mask, np.float32), matrix, (IMAGE_SIZE, IMAGE_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def square_bounds(inverse, top, bottom, left, right):
    """(x0, y0, x1, y1): the photo's bounding box of the aligned square's box from (left, top) to
    (right, bottom), mapped by `inverse` (the aligned square -> the photo, 2 x 3)."""
    corners = np.array([[left, top, 1], [right, top, 1], [left, bottom, 1], [right, bottom, 1]], np.float64)
    points = corners @ np.asarray(inverse, np.float64).T
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    return x0, y0, x1, y1


def paste_region(photo, completed, mask, matrix, threshold=0.5, grow=2, even=False):
    """A completed aligned face blended into the photo region it covers, where its mask is on.

    The mask (aligned, in [0, 1]) is binarised at `threshold`, grown by `grow` pixels (the
    completion's seam lies inside it) and warped back with bilinear edges. Only the region the
    mask's bounding box maps to is warped (empty for an empty mask) (`even`: its corners rounded out to even pixels, as 4:2:0
    video needs). Returns ((y0, y1, x0, x1), the region blended (uint8), its mask (float in
    [0, 1])); outside the mask the region holds the photo's exact pixels.
    """
    photo = np.asarray(photo, np.uint8)
    height, width = photo.shape[:2]
    binary = (np.asarray(mask).reshape(IMAGE_SIZE, IMAGE_SIZE) > threshold).astype(np.uint8)
    if grow:
        binary = cv2.dilate(binary, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    inverse = cv2.invertAffineTransform(matrix)
    rows, cols = np.nonzero(binary)
    if rows.size == 0:
        return (0, 0, 0, 0), np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0), np.float32)
    # Only the part of the photo the mask's box maps to is warped: a subtitle covers a band of the face.
    x0, y0, x1, y1 = square_bounds(inverse, rows.min() - 1, rows.max() + 2, cols.min() - 1, cols.max() + 2)
    x0, y0, x1, y1 = np.floor(x0) - 1, np.floor(y0) - 1, np.ceil(x1) + 1, np.ceil(y1) + 1
    x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), min(height, int(y1))
    if even:
        x0, y0, x1, y1 = x0 - x0 % 2, y0 - y0 % 2, min(width, x1 + x1 % 2), min(height, y1 + y1 % 2)
    if x1 <= x0 or y1 <= y0:
        return (0, 0, 0, 0), np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0), np.float32)
    shifted = inverse.copy()
    shifted[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    region_mask = cv2.warpAffine(binary.astype(np.float32), shifted, size, flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    face = np.round(np.clip(completed, 0, 1) * 255).astype(np.uint8) if completed.dtype != np.uint8 else completed
    warped = cv2.warpAffine(face, shifted, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
    original = photo[y0:y1, x0:x1]
    weight = region_mask[..., None]
    blend = original + weight * (warped.astype(np.float32) - original)
    region = np.where(weight > 0, np.clip(np.round(blend), 0, 255), original).astype(np.uint8)
    return (y0, y1, x0, x1), region, region_mask


def paste_back(photo, completed, mask, matrix, threshold=0.5, grow=2):
    """Blends a completed aligned face into the photo where its mask is on (`paste_region`).

    Returns the new photo (uint8; outside the mask the photo's pixels exactly) and the mask in
    photo coordinates (float in [0, 1])."""
    photo = np.asarray(photo, np.uint8)
    (y0, y1, x0, x1), region, region_mask = paste_region(photo, completed, mask, matrix, threshold, grow)
    result, photo_mask = photo.copy(), np.zeros(photo.shape[:2], np.float32)
    result[y0:y1, x0:x1] = region
    photo_mask[y0:y1, x0:x1] = region_mask
    return result, photo_mask


SUBJECT_RULES = ("centre", "largest", "confident")


def choose_subject(faces, photo_shape, rule="centre"):
    """The face a dataset photo is of: "centre" (default) the face nearest the photo's centre
    among those at least half as wide as the largest (a bystander in a corner is smaller and
    off-centre), "largest" the largest box, "confident" MTCNN's most confident."""
    if rule == "confident":
        return max(faces, key=lambda f: f.confidence)
    sides = np.array([np.sqrt(max(f.box[2], 1) * max(f.box[3], 1)) for f in faces])
    if rule == "largest":
        return faces[int(np.argmax(sides))]
    if rule != "centre":
        raise ValueError(f"Unknown subject rule {rule!r}; choose from {', '.join(SUBJECT_RULES)}.")
    height, width = photo_shape[:2]
    candidates = [i for i, side in enumerate(sides) if side >= 0.5 * sides.max()]
    distance = [np.hypot(faces[i].box[0] + faces[i].box[2] / 2 - width / 2, faces[i].box[1] + faces[i].box[3] / 2
                         - height / 2) for i in candidates]
    return faces[candidates[int(np.argmin(distance))]]


def _save_atomically(image, target):
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    Image.fromarray(image).save(temporary, format="PNG")
    os.replace(temporary, target)  # a killed run never leaves a half-written face that a resume would keep


def _align_chunk(task):
    """Aligns one chunk of photos (a worker's task); returns (written, [(path, reason)])."""
    in_dir, out_dir, paths, landmarks, all_faces, subject = task
    from c2fdan_tf.data.image_files import ImageReadError, read_photo
    from c2fdan_tf.data.landmark_files import image_key

    written, misses = 0, []
    for path in paths:
        relative = Path(path).relative_to(in_dir)
        try:
            photo = read_photo(path)
        except ImageReadError as error:
            misses.append((str(path), error.reason))
            continue
        if landmarks is not None:
            points = landmarks.get(image_key(relative))
            if points is None:
                misses.append((str(path), "no landmarks for it in the landmarks file"))
                continue
            chosen = [points]
        else:
            faces = detect_faces(photo)
            if not faces:
                misses.append((str(path), "no face found"))
                continue
            chosen = [f.landmarks for f in faces] if all_faces else [choose_subject(faces, photo.shape, subject).landmarks]
        stem = relative.with_suffix("")
        for k, points in enumerate(chosen):
            aligned, _ = align(photo, points)
            _save_atomically(aligned, out_dir / (f"{stem}_{k}.png" if all_faces else f"{stem}.png"))
            written += 1
    return written, misses


def align_folder(in_dir, out_dir, all_faces=False, log=print, landmarks=None, subject="centre", workers=1,
                 chunk=32, progress=False):
    """Aligns every photo under `in_dir` into `out_dir` (PNG, sub-folders kept): the subject
    face of each (`choose_subject`; every face with `all_faces`) found by MTCNN, or, given a
    `landmarks` file (`data.landmark_files`), the dataset's own five points (no detection).
    Resumable: a photo whose aligned face is already written is skipped. `workers` processes
    share the photos. Every miss (unreadable, no face, no landmarks) is listed in
    `out_dir/alignment_misses.tsv`. Returns (aligned count, [problem lines])."""
    import concurrent.futures
    import multiprocessing

    from c2fdan_tf.data.image_files import list_image_files
    from c2fdan_tf.data.landmark_files import image_key, read_landmarks

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise ValueError(f"Input folder {in_dir} does not exist.")
    if subject not in SUBJECT_RULES:
        raise ValueError(f"Unknown subject rule {subject!r}; choose from {', '.join(SUBJECT_RULES)}.")
    paths = list_image_files(in_dir)
    if not paths:
        raise ValueError(f"Input folder {in_dir} contains no images.")
    points = read_landmarks(landmarks) if landmarks else None

    def done(path):
        stem = path.relative_to(in_dir).with_suffix("")
        return (out_dir / (f"{stem}_0.png" if all_faces else f"{stem}.png")).exists()

    todo = [p for p in paths if not done(p)]
    if len(todo) < len(paths):
        log(f"{len(paths) - len(todo)} of {len(paths)} photo(s) already aligned in {out_dir}: skipped.")
    tasks = []
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        keys = (image_key(p.relative_to(in_dir)) for p in part)
        subset = None if points is None else {k: points[k] for k in keys if k in points}
        tasks.append((in_dir, out_dir, part, subset, all_faces, subject))
    written, misses = 0, []
    results = map(_align_chunk, tasks)
    pool = None
    if workers > 1 and len(tasks) > 1:
        # TensorFlow (loaded here, and by detection) must not be forked: workers start from a clean server.
        context = multiprocessing.get_context("forkserver")
        pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)
        results = pool.map(_align_chunk, tasks)
    try:
        if progress:
            from tqdm import tqdm

            from c2fdan_tf.console import bars_disabled

            results = tqdm(results, total=len(tasks), desc="aligning", unit=f"{chunk} photos", disable=bars_disabled())
        for count, missed in results:
            written += count
            misses += missed
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = out_dir / "alignment_misses.tsv"
    listing.write_text("".join(f"{path}\t{reason}\n" for path, reason in misses))
    log(f"Aligned {written} face(s) from {len(todo)} image(s) into {out_dir}; {len(misses)} miss(es)"
        + (f", listed in {listing}." if misses else "."))
    return written, [f"{path}: {reason}" for path, reason in misses]

