"""Blind face completion of a video, frame by frame, stable over time.

    from c2fdan_tf.inference import load_runner
    from c2fdan_tf.video import complete_video
    summary = complete_video(load_runner("c2fdan_int8.tflite"), "clip.mp4", "out/clip_completed.mp4")

`VideoCompleter` is the streaming core: `push(frame, time)` takes decoded frames in order and
returns those that are finished (one frame later: the mask of frame t is fused with t - 1 and
t + 1), `finish()` the rest. For each frame it follows the faces (`tracking.FaceTracker`),
aligns and completes them with the runner in one batch, fuses the masks and blends the fill
(`temporal`), and pastes each face back only where its mask is on. Memory holds two frames,
whatever the video's length. `VideoOptions.per_frame()` turns every stability part off (a
detection every frame, raw landmarks, this frame's mask and fill alone): the baseline the
benchmark compares against.
"""

import collections
import dataclasses
import time as clock

import cv2
import numpy as np

from c2fdan_tf.face_template import IMAGE_SIZE
from c2fdan_tf.inference.alignment import align, align_mask, paste_region
from c2fdan_tf.inference.completion import EMPTY_MASK_FRACTION
from c2fdan_tf.inference.inpainting import telea_fill
from c2fdan_tf.video import temporal
from c2fdan_tf.video.tracking import DETECT_LONG_SIDE, FaceTracker


PASTE_GROW = 2  # aligned pixels the pasted mask is grown by (the completion's seam lies inside)


@dataclasses.dataclass
class VideoOptions:
    detect_every: int = 10  # frames between detections (1: detect every frame, no tracking)
    smooth_landmarks: bool = True  # One-Euro filter on the tracked points
    fuse_masks: bool = True  # masks fused over neighbouring frames with hysteresis
    blend_fill: bool = True  # fill blended with the previous frame's where they agree
    detect_long_side: int = DETECT_LONG_SIDE
    min_cutoff: float = 1.0  # One-Euro: Hz at rest
    beta: float = 0.2  # One-Euro: cut-off rise per eye distance a second

    @classmethod
    def per_frame(cls, **changes):
        return dataclasses.replace(cls(detect_every=1, smooth_landmarks=False, fuse_masks=False, blend_fill=False),
                                   **changes)

    @property
    def lookahead(self):
        return 1 if self.fuse_masks else 0


@dataclasses.dataclass
class FaceState:
    """One face in one frame, in its aligned square."""
    track: int
    new: bool  # no earlier frame of this face to fuse with
    matrix: np.ndarray  # photo -> aligned (2x3)
    face: np.ndarray  # the aligned input (112, 112, 3) float
    probability: np.ndarray  # the network's mask (112, 112)
    completed: np.ndarray  # the network's completed face (112, 112, 3) float
    coarse: np.ndarray
    given: bool = False  # the mask was given (--mask): no fusion
    mask: np.ndarray = None  # final binary mask, set when the frame is finished
    fill: np.ndarray = None  # final aligned face (the completion inside `mask`)
    evidence: np.ndarray = None  # the mask's held evidence (temporal.hysteresis)


@dataclasses.dataclass
class FrameResult:
    index: int
    frame: object  # the streams.YuvFrame, faces pasted
    mask: np.ndarray  # uint8 (H, W): 255 where pixels were replaced, blended edges between
    faces: list  # FaceStates


class VideoCompleter:
    """Streaming completion of decoded frames (see the module's docstring).

    given_masks: None, or a callable frame index -> float (H, W) mask in [0, 1] (white =
    occluded) used instead of the predicted one (needs `runner.takes_masks`)."""

    def __init__(self, runner, options=None, given_masks=None, detector=None):
        self.runner, self.options, self.given_masks = runner, options or VideoOptions(), given_masks
        o = self.options
        kwargs = {} if detector is None else {"detector": detector}
        self.tracker = FaceTracker(o.detect_every, o.smooth_landmarks, o.detect_long_side, o.min_cutoff, o.beta,
                                   **kwargs)
        self.pending = collections.deque()
        self.previous = {}  # track id -> FaceState of the last finished frame
        self.last_mask = None
        self.index = 0
        self.seconds = collections.Counter()

    def push(self, frame, time):
        """Adds the next decoded frame (streams.YuvFrame) shown at `time` seconds; returns the
        FrameResults finished by it (in order)."""
        start = clock.perf_counter()
        rotation = getattr(frame, "rotation", 0)
        tracks = self.tracker.update(lambda: _upright(frame.rgb(), rotation), frame.luma, time, self.last_mask,
                                     rotation=rotation)
        self.seconds["tracking"] += clock.perf_counter() - start
        start = clock.perf_counter()
        states = self._complete(frame, tracks)
        self.seconds["completion"] += clock.perf_counter() - start
        self.pending.append((self.index, frame, states))
        self.index += 1
        finished = []
        while len(self.pending) > self.options.lookahead:
            finished.append(self._finish_one())
        return finished

    def finish(self):
        """The frames still waiting for a successor."""
        finished = []
        while self.pending:
            finished.append(self._finish_one())
        return finished

    def _complete(self, frame, tracks):
        if not tracks:
            return []
        rgb = frame.rgb()
        aligned = [align(rgb, track.landmarks) for track in tracks]
        faces = np.stack([face for face, _ in aligned]).astype(np.float32) / 255
        matrices = [matrix for _, matrix in aligned]
        given = None if self.given_masks is None else self.given_masks(self.index)
        if given is None:
            outputs = self.runner(faces)
        else:
            outputs = self.runner.with_masks(faces, np.stack([align_mask(given, m) for m in matrices])[..., None])
        return [FaceState(track.id, track.new, m, faces[k], outputs["mask"][k].reshape(IMAGE_SIZE, IMAGE_SIZE),
                          outputs["completed"][k], outputs["coarse"][k], given is not None)
                for k, (track, m) in enumerate(zip(tracks, matrices))]

    def _finish_one(self):
        index, frame, states = self.pending.popleft()
        upcoming = {s.track: s for s in self.pending[0][2]} if self.pending else {}
        start = clock.perf_counter()
        rgb = frame.rgb() if states else None
        frame_mask = np.zeros((frame.height, frame.width), np.uint8)
        for state in states:
            previous = None if state.new else self.previous.get(state.track)
            self._decide(state, previous, upcoming.get(state.track))
            if state.mask.mean() < EMPTY_MASK_FRACTION:
                continue
            region, pasted, region_mask = paste_region(rgb, state.fill, state.mask.astype(np.float32), state.matrix,
                                                       grow=PASTE_GROW, even=frame.planar)
            y0, y1, x0, x1 = region
            frame.paste(region, pasted, region_mask)  # also into `rgb`: the next face blends with this one
            # 0 only where nothing was written: every pixel touched counts, however lightly.
            frame_mask[y0:y1, x0:x1] = np.maximum(frame_mask[y0:y1, x0:x1], np.ceil(region_mask * 255).astype(np.uint8))
        self.previous = {s.track: s for s in states}
        self.last_mask = frame_mask
        self.seconds["paste-back"] += clock.perf_counter() - start
        return FrameResult(index, frame, frame_mask, states)

    def _decide(self, state, previous, upcoming):
        """Sets state.mask and state.fill from this frame's outputs and its neighbours'."""
        o = self.options
        network_on = state.probability >= temporal.MASK_ON
        if state.given or not o.fuse_masks:
            state.mask, state.evidence = network_on, state.probability
        else:
            neighbours, held = [], None
            if previous is not None:
                relation = temporal.screen_relation(state.matrix, previous.matrix)
                neighbours.append((previous.probability, relation))
                held = temporal.carry(previous.evidence, relation)[0]
            if upcoming is not None:
                neighbours.append((upcoming.probability, temporal.screen_relation(state.matrix, upcoming.matrix)))
            fused = temporal.fused_probability(state.probability, neighbours)
            state.mask, state.evidence = temporal.hysteresis(fused, held)
        fill = np.asarray(state.completed, np.float32)
        if not state.given:
            # Eq. 2, I_f = (1 - M) I + M F, solved for the fine network's fill F where M >= 0.5: a soft
            # mask would otherwise let (1 - M) of the letters through. Where the fused mask is on but
            # M < 0.5 the outputs hold the input itself: last frame's fill where it had one, else the
            # face inpainted there (Telea). The seam ring that paste-back adds is filled the same way.
            region = cv2.dilate(state.mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            fine = temporal.network_fill(fill, state.face, state.probability)
            fallback = fill  # not used where nothing falls back
            lacking = region & ~network_on
            if previous is not None:
                fallback = np.where(previous.mask[..., None], previous.fill, fallback)
                lacking &= ~previous.mask
            if lacking.any():  # Telea only when some pixel has neither fill (1.2 ms a face)
                fallback = np.where(lacking[..., None], telea_fill(state.face, region), fallback)
            fill = np.where(region[..., None], np.where(network_on[..., None], fine, fallback), fill)
        if o.blend_fill and previous is not None:
            change = temporal.face_change(state.face, previous.face, state.mask | previous.mask)
            fill = temporal.blend_fill(fill, previous.fill, state.mask & previous.mask, change)
        state.fill = fill


def _upright(rgb, rotation):
    """The frame as displayed (rotated `rotation` degrees counter-clockwise), for the detector."""
    turns = (int(round(rotation / 90.0)) % 4)
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


@dataclasses.dataclass
class VideoSummary:
    source: str
    target: str
    frames: int
    frames_with_faces: int  # frames where at least one face was followed
    frames_completed: int  # frames where something was pasted
    faces_per_frame: float  # faces followed, on average
    seconds: dict  # stage -> seconds (decoding, tracking, completion, paste-back, encoding)
    wall: float
    codec: str
    warnings: list

    @property
    def frames_per_second(self):
        return self.frames / self.wall if self.wall > 0 else 0.0

    def line(self):
        stages = ", ".join(f"{name} {1000 * s / max(self.frames, 1):.1f}" for name, s in self.seconds.items())
        return (f"{self.source}: {self.frames} frames, a face in {self.frames_with_faces}, completed in "
                f"{self.frames_completed}; {self.frames_per_second:.1f} frames/s (ms a frame: {stages}) -> "
                f"{self.target} ({self.codec}, other streams copied)")


class _GreyFrame:
    """A mask frame for the mask video (grey, shown with the video's own timing)."""

    def __init__(self, grey, pts, time_base):
        self.grey, self.pts, self.time_base = grey, pts, time_base

    def to_av(self):
        import av

        frame = av.VideoFrame.from_ndarray(self.grey, format="gray")
        frame.pts, frame.time_base = self.pts, self.time_base
        return frame


class GivenMasks:
    """--mask for a video: one photo-sized mask image for every frame, or a mask video read in step
    with the frames (its grey level: white = occluded). Called with increasing frame indices."""

    def __init__(self, spec, info):
        from pathlib import Path

        from c2fdan_tf.video.streams import VideoError, VideoReader, is_video_path

        self.spec, self.constant, self.frames = Path(spec), None, None
        if is_video_path(spec):
            reader = VideoReader(spec)
            if (reader.info.width, reader.info.height) != (info.width, info.height):
                raise VideoError(f"{spec}: the mask video is {reader.info.width}x{reader.info.height}, the video "
                                 f"{info.width}x{info.height}")
            self.frames = (item for kind, item in reader if kind == "frame")
        else:
            from c2fdan_tf.data.image_files import ImageReadError, read_mask_image

            try:
                self.constant = read_mask_image(spec, size=(info.width, info.height))
            except ImageReadError as error:
                raise VideoError(str(error)) from None

    def __call__(self, index):
        if self.constant is not None:
            return self.constant
        frame = next(self.frames, None)
        if frame is None:
            from c2fdan_tf.video.streams import VideoError

            raise VideoError(f"{self.spec}: the mask video ends before frame {index + 1} of the video")
        return frame.luma.astype(np.float32) / 255.0


def complete_video(runner, source, target, options=None, mask=None, codec=None, mask_target=None, progress=False,
                   log=print):
    """Completes every face of the video `source` into `target` (its suffix picks the container);
    returns a VideoSummary. The audio and subtitle streams are copied, each frame keeps its time,
    size and rotation. mask: a mask image or mask video used instead of the predicted masks;
    mask_target: also write the masks as a video there. Raises streams.VideoError (one line)."""
    from c2fdan_tf.console import bars_disabled
    from c2fdan_tf.video.streams import VideoError, VideoReader, VideoWriter

    started = clock.perf_counter()
    reader = VideoReader(source)
    info = reader.info
    warnings = []
    if info.bit_depth > 8:
        warnings.append(f"note: {source} is {info.bit_depth}-bit ({info.pixel_format}); written as 8-bit 4:2:0")
    given = None
    if mask is not None:
        if not runner.takes_masks:
            raise VideoError(f"{mask}: completing inside a given mask needs a .keras checkpoint or the given-mask "
                             ".tflite")
        given = GivenMasks(mask, info)
    elif getattr(runner, "needs_masks", False):
        raise VideoError("this model completes inside a given mask: pass a mask")
    completer = VideoCompleter(runner, options, given)
    counts = collections.Counter()
    seconds = collections.Counter()
    from tqdm import tqdm

    bar = tqdm(total=info.expected_frames, unit="frame", desc=str(source), disable=not progress or bars_disabled(),
               leave=False)
    mask_writer = None
    try:
        with VideoWriter(target, reader, codec, log=log) as writer:
            if mask_target is not None:
                mask_writer = VideoWriter(mask_target, reader, "libx264" if str(mask_target).endswith(
                    (".mp4", ".mkv", ".mov")) else None, copy_streams=False)

            def emit(results):
                for result in results:
                    start = clock.perf_counter()
                    writer.write(result.frame)
                    if mask_writer is not None:
                        mask_writer.write(_GreyFrame(result.mask, result.frame.pts, result.frame.time_base))
                    seconds["encoding"] += clock.perf_counter() - start
                    counts["frames"] += 1
                    counts["with faces"] += bool(result.faces)
                    counts["faces"] += len(result.faces)
                    counts["completed"] += bool(result.mask.any())
                    bar.update(1)

            items = iter(reader)
            while True:
                start = clock.perf_counter()
                item = next(items, None)
                seconds["decoding"] += clock.perf_counter() - start
                if item is None:
                    break
                kind, value = item
                if kind == "packet":
                    writer.copy(value)
                    continue
                time = float(value.pts * value.time_base) if value.time_base else completer.index / float(info.rate)
                emit(completer.push(value, time))
            emit(completer.finish())
            if counts["frames"] == 0:
                raise VideoError(f"{source}: no frame could be decoded" + (f" ({reader.stopped})" if reader.stopped
                                                                            else ""))
            if mask_writer is not None:
                mask_writer.__exit__(None, None, None)
                mask_writer = None
    finally:
        bar.close()
        reader.close()
        if mask_writer is not None:
            mask_writer.__exit__(RuntimeError, None, None)
    if reader.stopped:
        warnings.append(f"warning: {reader.stopped}; the output holds the {counts['frames']} frames before it")
    elif info.announced_frames and counts["frames"] < info.announced_frames - 1:
        warnings.append(f"warning: {source} ends after {counts['frames']} frames of the {info.announced_frames} "
                        "its header announces (a truncated file?); the output holds those")
    detection = completer.tracker.detect_seconds
    stages = {"decoding": seconds["decoding"], "detection": detection,
              "tracking": completer.seconds["tracking"] - detection,
              "completion": completer.seconds["completion"], "paste-back": completer.seconds["paste-back"],
              "encoding": seconds["encoding"]}
    return VideoSummary(str(source), str(target), counts["frames"], counts["with faces"], counts["completed"],
                        counts["faces"] / max(counts["frames"], 1), stages,
                        clock.perf_counter() - started, writer.codec, warnings)
