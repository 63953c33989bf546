"""How much rendered faces look like faces to networks trained on real ones (issue 30):

1. detection: the share of faces MTCNN finds (score >= 0.9, the box's centre within a
   quarter of the face's width of where it was pasted) at the centre of a 250x250 mid-grey
   canvas -- real aligned faces are found there, cartoons often not;
2. landmarks: face-api.js' 68-point net's five points (eye centres, nose tip, mouth corners)
   against where the renderer drew them, as a fraction of the inter-ocular distance;
3. identity: face-api.js' pretrained recognizer's 10-fold verification accuracy on pairs of
   the same and of different rendered identities (a real-face recognizer must tell them apart).
"""

import numpy as np

CANVAS = 250
GREY = 128


def paste_on_canvas(faces, canvas=CANVAS, grey=GREY):
    """(N, 112, 112, 3) uint8 faces pasted at the centre of (N, canvas, canvas, 3) grey images."""
    faces = np.asarray(faces, np.uint8)
    size = faces.shape[1]
    out = np.full((len(faces), canvas, canvas, 3), grey, np.uint8)
    top = (canvas - size) // 2
    out[:, top:top + size, top:top + size] = faces
    return out


def detection_in_canvas(faces, detect, min_score=0.9):
    """(found (N,) bool, best score (N,) float) of `detect` (photo -> [DetectedFace]) on each face
    pasted at the canvas centre; a detection counts if its box centre is within a quarter of
    the face's width from the canvas centre."""
    faces = np.asarray(faces)
    size, centre = faces.shape[1], CANVAS / 2.0
    found, scores = np.zeros(len(faces), bool), np.zeros(len(faces))
    for n, canvas in enumerate(paste_on_canvas(faces)):
        for face in detect(canvas):
            x, y, w, h = face.box
            if face.confidence >= min_score and np.hypot(x + w / 2 - centre, y + h / 2 - centre) <= size / 4:
                found[n] = True
                scores[n] = max(scores[n], face.confidence)
    return found, scores


def verification_accuracy(embeddings, labels, num_pairs=400, seed=0):
    """10-fold verification accuracy of L2-normalised embeddings on balanced same/different pairs."""
    from c2fdan_tf.evaluation.recognition import balanced_pairs, ten_fold_verification

    first, second, same = balanced_pairs(np.asarray(labels), num_pairs, seed=seed)
    similarities = np.sum(embeddings[first] * embeddings[second], axis=1)
    return ten_fold_verification(similarities, same)[0]
