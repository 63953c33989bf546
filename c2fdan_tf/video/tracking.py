"""Faces followed through a video: detected now and then, tracked in between, landmarks smoothed.

- `FaceTracker` runs the photo path's MTCNN (`inference.alignment.detect_faces`) on a frame
  scaled down to `detect_long_side`, every `detect_every` frames, at scene cuts and after a
  track is lost; in between, each face's five points follow the motion of the face's own
  texture (pyramidal Lucas-Kanade on corners inside the face, a RANSAC similarity), with the
  pixels under the last frame's mask left out (a subtitle is static: its corners would pull
  the points to the text).
- `OneEuroFilter` (Casiez, Roussel, Vogel, CHI 2012) smooths the points: a low-pass filter
  whose cut-off rises with the speed, so a still face stops jittering and a moving one does not
  lag. Positions are filtered in units of the face's eye distance, so the settings hold for
  any face size.
- `SceneCuts` says when consecutive frames have nothing in common (their small grey
  thumbnails differ by more than `threshold` grey levels on average).
"""

import dataclasses
import functools
import math
import time as clock

import cv2
import numpy as np

from c2fdan_tf.face_template import FACE_ELLIPSE, IMAGE_SIZE
from c2fdan_tf.inference.alignment import TEMPLATE, detect_faces, similarity_transform, square_bounds

DETECT_LONG_SIDE = 640  # detection runs on the frame scaled to this longer side (faces >= 20 px there)
MIN_TRACKED_POINTS = 8
MAX_CORRECTION = 0.12  # eye distances: a detection that would move a tracked face further is not trusted
MIN_CORRECTION = 0.04  # eye distances: MTCNN's scatter on a still face; smaller corrections are not made
TRACK_SIDE = 192  # the face's region is scaled to at most this side for Lucas-Kanade


class OneEuroFilter:
    """The 1-euro filter of Casiez et al. (2012) over arrays of any shape.

    x̂_i = α x_i + (1 - α) x̂_{i-1}, α = 1 / (1 + τ / T_e), τ = 1 / (2π f_c);
    f_c = f_c,min + β |dx̂|, dx̂ the derivative low-passed at `derivative_cutoff`."""

    def __init__(self, min_cutoff=1.0, beta=0.5, derivative_cutoff=1.0):
        self.min_cutoff, self.beta, self.derivative_cutoff = min_cutoff, beta, derivative_cutoff
        self.value = self.derivative = self.time = None

    @staticmethod
    def _alpha(cutoff, period):
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / period)

    def __call__(self, x, time):
        x = np.asarray(x, np.float64)
        if self.value is None or time <= self.time:
            self.value, self.derivative, self.time = x.copy(), np.zeros_like(x), time
            return self.value.copy()
        period = time - self.time
        derivative = (x - self.value) / period
        a = self._alpha(self.derivative_cutoff, period)
        self.derivative = a * derivative + (1 - a) * self.derivative
        speed = np.linalg.norm(self.derivative, axis=-1, keepdims=True) if x.ndim > 1 else np.abs(self.derivative)
        a = self._alpha(self.min_cutoff + self.beta * speed, period)
        self.value = a * x + (1 - a) * self.value
        self.time = time
        return self.value.copy()


class SceneCuts:
    """True for a frame that does not continue the previous one (a cut)."""

    def __init__(self, threshold=30.0, size=(64, 36)):
        self.threshold, self.size, self.previous = threshold, size, None

    def __call__(self, grey):
        small = cv2.resize(grey, self.size, interpolation=cv2.INTER_AREA).astype(np.float32)
        cut = self.previous is not None and float(np.mean(np.abs(small - self.previous))) > self.threshold
        self.previous = small
        return cut


def face_region(landmarks, shape, margin=0.0):
    """(y0, y1, x0, x1): the photo region the aligned 112x112 square of these landmarks covers,
    grown by `margin` of its side and clipped to the photo."""
    matrix = similarity_transform(landmarks, TEMPLATE)
    x0, y0, x1, y1 = square_bounds(cv2.invertAffineTransform(matrix), 0, IMAGE_SIZE, 0, IMAGE_SIZE)
    grow = margin * max(x1 - x0, y1 - y0)
    height, width = shape[:2]
    return (int(max(0, math.floor(y0 - grow))), int(min(height, math.ceil(y1 + grow))),
            int(max(0, math.floor(x0 - grow))), int(min(width, math.ceil(x1 + grow))))


def _overlap(a, b):
    """Intersection over union of two (y0, y1, x0, x1) regions."""
    h = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    w = max(0, min(a[3], b[3]) - max(a[2], b[2]))
    inter = h * w
    union = (a[1] - a[0]) * (a[3] - a[2]) + (b[1] - b[0]) * (b[3] - b[2]) - inter
    return inter / union if union > 0 else 0.0


def unrotate_points(points, rotation, stored_shape):
    """Points (x, y) found in the displayed frame (the stored one turned `rotation` degrees
    counter-clockwise, as np.rot90) mapped back into the stored frame."""
    turns = int(round(rotation / 90.0)) % 4
    shapes = [tuple(stored_shape[:2])]
    for _ in range(turns):
        shapes.append(shapes[-1][::-1])
    points = np.asarray(points, np.float64)
    for k in range(turns, 0, -1):  # one turn back: (u, v) in turn k came from (w - 1 - v, u) in turn k - 1
        width_before = shapes[k - 1][1]
        points = np.stack([width_before - 1 - points[:, 1], points[:, 0]], axis=1)
    return points


def eye_distance(landmarks):
    return float(np.linalg.norm(landmarks[1] - landmarks[0]))


@dataclasses.dataclass
class FaceTrack:
    id: int
    raw: np.ndarray  # (5, 2) detected or tracked points, this frame
    landmarks: np.ndarray  # (5, 2) smoothed: what the face is aligned with
    unit: float  # the eye distance when the track began (the filter's unit)
    filter: OneEuroFilter
    misses: int = 0  # detections in a row that did not find this face
    new: bool = True  # began this frame (or at a cut): no history to fuse with
    followed: bool = False  # its corners were followed into this frame (Lucas-Kanade)


@functools.cache
def _inner_face():
    """uint8 mask (255 = face) in the aligned square: the face ellipse, where the skin moves with
    the landmarks (not the hair, ears or background)."""
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    cy, cx, ry, rx = FACE_ELLIPSE
    cv2.ellipse(mask, (round(cx), round(cy)), (round(rx * 0.9), round(ry * 0.9)), 0, 0, 360, 255, -1)
    return mask


def track_points(previous, current, landmarks, exclude=None):
    """The five points moved from `previous` to `current` (grey uint8 frames) by the motion of
    the face around them; None when too few corners follow. `exclude`: a frame-sized mask
    (> 0 = do not track there, e.g. last frame's occlusion)."""
    y0, y1, x0, x1 = face_region(landmarks, previous.shape, margin=0.15)
    if y1 - y0 < 16 or x1 - x0 < 16:
        return None
    scale = min(1.0, TRACK_SIDE / max(y1 - y0, x1 - x0))
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    before = cv2.resize(previous[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
    after = cv2.resize(current[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
    # Corners on the face only: the background around it does not move with it.
    to_region = np.array([[scale, 0.0, -scale * x0], [0.0, scale, -scale * y0]]) @ np.vstack(
        [cv2.invertAffineTransform(similarity_transform(landmarks, TEMPLATE)), [0.0, 0.0, 1.0]])
    allowed = cv2.warpAffine(_inner_face(), to_region, size, flags=cv2.INTER_NEAREST)
    if exclude is not None:
        blocked = cv2.resize((exclude[y0:y1, x0:x1] > 0).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        allowed = allowed * (1 - cv2.dilate(blocked, np.ones((5, 5), np.uint8)))
    corners = cv2.goodFeaturesToTrack(before, maxCorners=80, qualityLevel=0.01, minDistance=4, mask=allowed)
    if corners is None or len(corners) < MIN_TRACKED_POINTS:
        return None
    forward, status, _ = cv2.calcOpticalFlowPyrLK(before, after, corners, None, winSize=(15, 15), maxLevel=2)
    backward, back_status, _ = cv2.calcOpticalFlowPyrLK(after, before, forward, None, winSize=(15, 15), maxLevel=2)
    good = (status[:, 0] == 1) & (back_status[:, 0] == 1) & (np.linalg.norm(backward - corners, axis=-1)[:, 0] < 1.0)
    if good.sum() < MIN_TRACKED_POINTS:
        return None
    source = corners[good, 0] / scale + (x0, y0)
    target = forward[good, 0] / scale + (x0, y0)
    motion, inliers = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=1.5 / scale)
    if motion is None or inliers.sum() < MIN_TRACKED_POINTS:
        return None
    return np.c_[landmarks, np.ones(len(landmarks))] @ motion.T


def corrected(tracked, detected, exclude=None):
    """The tracked points moved onto a new detection by the similarity that best maps the
    tracked points onto the detected ones, fitted on the points outside `exclude` (the
    occlusion: a detector's points under a subtitle are guesses). With fewer than two points
    outside it, the tracked points are kept; without `exclude`, the detection is taken."""
    visible = list(range(len(tracked)))
    if exclude is not None:
        height, width = exclude.shape
        visible = [k for k, (x, y) in enumerate(tracked) if not (0 <= round(y) < height and 0 <= round(x) < width)
                   or exclude[int(round(y)), int(round(x))] == 0]
    if len(visible) < 2:
        return tracked
    motion = similarity_transform(tracked[visible], detected[visible])
    moved = np.c_[tracked, np.ones(len(tracked))] @ motion.T
    # A detector misled by a large occluder moves even the visible points: a healthy track keeps its
    # own; a correction within the detector's own scatter would only make the crop jump.
    shift = np.sqrt(np.mean(np.sum((moved - tracked) ** 2, axis=1))) / eye_distance(tracked)
    return moved if MIN_CORRECTION <= shift <= MAX_CORRECTION else tracked


class FaceTracker:
    """The faces of each frame, as FaceTracks with smoothed landmarks.

    detect_every: run the detector every this many frames (1 = every frame, no tracking);
    smooth: filter the points (`OneEuroFilter(min_cutoff, beta)` in eye distances and seconds)."""

    def __init__(self, detect_every=10, smooth=True, detect_long_side=DETECT_LONG_SIDE, min_cutoff=1.0, beta=1.0,
                 max_misses=2, detector=detect_faces):
        self.detect_every, self.smooth, self.detect_long_side = max(1, int(detect_every)), smooth, detect_long_side
        self.min_cutoff, self.beta, self.max_misses, self.detector = min_cutoff, beta, max_misses, detector
        self.tracks, self.cuts, self.previous = [], SceneCuts(), None
        self.frame_index, self.next_id, self.detect_now = 0, 0, True
        self.detections, self.detect_seconds = 0, 0.0

    def _detect(self, rgb, stored_shape, rotation):
        height, width = rgb.shape[:2]
        scale = min(1.0, self.detect_long_side / max(height, width))
        small = rgb if scale == 1.0 else cv2.resize(rgb, (round(width * scale), round(height * scale)),
                                                    interpolation=cv2.INTER_AREA)
        self.detections += 1
        start = clock.perf_counter()
        found = self.detector(small)
        self.detect_seconds += clock.perf_counter() - start
        return [unrotate_points(face.landmarks / scale, rotation, stored_shape) for face in found]

    def _new_track(self, points, time):
        track = FaceTrack(self.next_id, points, points, eye_distance(points),
                          OneEuroFilter(self.min_cutoff, self.beta))
        self.next_id += 1
        self._smooth(track, points, time)
        return track

    def _smooth(self, track, points, time):
        track.raw = points
        if self.smooth:
            track.landmarks = track.filter(points / track.unit, time) * track.unit
        else:
            track.landmarks = points

    def update(self, frame_rgb, grey, time, exclude=None, rotation=0):
        """The tracks of this frame. frame_rgb: a callable returning the RGB frame as displayed
        (converted only when detection needs it); grey: uint8 (H, W) as stored; time: seconds;
        exclude: last frame's pasted mask (stored frame-sized) or None; rotation: the display
        rotation (degrees counter-clockwise) that turns the stored frame into `frame_rgb()`.
        Landmarks are in the stored frame."""
        cut = self.cuts(grey)
        if cut:
            self.tracks = []
        detect = self.detect_now or cut or self.frame_index % self.detect_every == 0
        self.detect_now = False
        tracked = []
        for track in self.tracks:
            points = track.raw
            if self.detect_every > 1 and self.previous is not None:  # 1: detection alone, every frame
                points = track_points(self.previous, grey, track.raw, exclude)
                track.followed = points is not None
                if points is None:  # too few corners followed: keep the last points, detect next frame
                    self.detect_now = True
                    points = track.raw
            track.new = False
            tracked.append((track, points))
        if detect:
            found = self._detect(frame_rgb(), grey.shape, rotation)
            shape = grey.shape
            regions = [face_region(points, shape) for points in found]
            kept, used = [], set()
            for track, points in tracked:
                overlaps = [(_overlap(face_region(points, shape), r), k) for k, r in enumerate(regions)
                            if k not in used]
                best = max(overlaps, default=(0.0, None))
                if best[0] > 0.3:
                    used.add(best[1])
                    track.misses = 0
                    kept.append((track, corrected(points, found[best[1]], exclude)))
                elif track.followed or track.misses < self.max_misses:
                    # MTCNN misses faces under large subtitles: a face still followed stays
                    track.misses += 1
                    kept.append((track, points))
            tracked = kept
            for k, points in enumerate(found):
                if k not in used:
                    tracked.append((self._new_track(points, time), None))
        self.tracks = []
        for track, points in tracked:
            if points is not None:
                self._smooth(track, points, time)
            self.tracks.append(track)
        self.previous = grey.copy()
        self.frame_index += 1
        return self.tracks
