"""Completing aligned faces and whole photos with any runner of the generator.

`complete_faces(runner, faces)` decides per face whether anything was found to
complete; `complete_photo(runner, photo)` finds, aligns, completes and pastes back
every face of a photo. Runners come from `runners.load_runner`.
"""

import dataclasses

import numpy as np

from c2fdan_tf.face_template import IMAGE_SIZE

# A mask covering less than this fraction of the face counts as empty: the face is
# returned untouched (a clean face is not "completed").
EMPTY_MASK_FRACTION = 0.002


@dataclasses.dataclass
class FaceResult:
    completed: np.ndarray  # float (112, 112, 3)
    mask: np.ndarray  # float (112, 112)
    coarse: np.ndarray
    empty_mask: bool  # nothing to complete: `completed` is the input itself


def complete_faces(runner, faces, masks=None):
    """FaceResults for uint8 or float faces (N, 112, 112, 3); with `masks` (N, 112, 112[, 1])
    in [0, 1] given (e.g. a predicted mask corrected by hand), completed inside those."""
    faces = np.asarray(faces)
    floats = faces.astype(np.float32) / 255.0 if faces.dtype == np.uint8 else faces.astype(np.float32)
    outputs = runner(floats) if masks is None else runner.with_masks(floats, masks)
    results = []
    for i, face in enumerate(floats):
        mask = outputs["mask"][i].reshape(IMAGE_SIZE, IMAGE_SIZE)
        empty = float(np.mean(mask > 0.5)) < EMPTY_MASK_FRACTION
        completed = face if empty else outputs["completed"][i]
        results.append(FaceResult(completed, mask, outputs["coarse"][i], empty))
    return results


@dataclasses.dataclass
class PhotoResult:
    photo: np.ndarray  # uint8, the photo with every completed face pasted in
    mask: np.ndarray  # float (H, W), where pixels were replaced
    faces: list  # [(DetectedFace, FaceResult)]


def complete_photo(runner, photo, mask=None):
    """Detects every face of an RGB uint8 photo, aligns, completes and pastes each back.

    mask: optional float (H, W) in [0, 1] over the photo (e.g. the `<name>_mask.png` of a first
    run, corrected by hand): each face is completed inside that mask, warped into its aligned
    frame, instead of the predicted one (needs `runner.takes_masks`).
    Pixels outside the pasted masks keep their exact values. Returns None if no face."""
    from c2fdan_tf.inference.alignment import align, align_mask, detect_faces, paste_back

    detected = detect_faces(photo)
    if not detected:
        return None
    result, total_mask, faces = np.asarray(photo, np.uint8).copy(), np.zeros(photo.shape[:2], np.float32), []
    for face in detected:
        aligned, matrix = align(result, face.landmarks)
        given = None if mask is None else align_mask(mask, matrix)[None]
        [completed] = complete_faces(runner, aligned[None], given)
        if not completed.empty_mask:
            result, photo_mask = paste_back(result, completed.completed, completed.mask, matrix)
            total_mask = np.maximum(total_mask, photo_mask)
        faces.append((face, completed))
    return PhotoResult(result, total_mask, faces)
