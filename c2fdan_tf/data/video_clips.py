"""Test videos with known ground truth: faces moving under subtitles that come and go.

- `FacesClip`: renderer-v2 faces (the same identity and image throughout, blinking now and then)
  moving over a still background photo -- translation, scale and a small rotation along smooth
  paths -- under burnt-in subtitles (white or yellow letters with a dark outline) that appear,
  change and disappear at set frames.
- `PannedPhotoClip`: a real photo (scikit-image's public-domain astronaut by default) panned and
  zoomed by a moving camera window, under a subtitle that scrolls across the face.

Every frame is a deterministic function of its index: `clip.frame(i)` gives the clean frame,
the occluded one, the true mask (every pixel the subtitle changed) and each face's five points.
`write_clip` encodes the occluded frames to a file (with a sine-tone audio track and,
optionally, a subtitle track and a display rotation) for the command-line path.
"""

import dataclasses
import fractions
import functools

import cv2
import numpy as np
from PIL import Image, ImageDraw

from c2fdan_tf.data.occluders import assets
from c2fdan_tf.face_template import IMAGE_SIZE

SUBTITLE_FONT = "DejaVuSans-Bold.ttf"
_MASK_ALPHA = 2.0 / 255.0  # an occluder pixel: changed by at least this alpha


@dataclasses.dataclass(frozen=True)
class Subtitle:
    text: str
    first: int  # first and last frame shown (inclusive)
    last: int
    y: float  # the line's vertical centre, a fraction of the frame's height
    cap_height: float = 0.06  # of the frame's height
    colour: tuple = (255, 255, 255)
    outline: int = 2  # dark outline, pixels at a 360-line frame (scaled with the frame)
    scroll: float = 0.0  # pixels a frame to the left (a ticker), at a 360-line frame

    def shown(self, index):
        return self.first <= index <= self.last


@dataclasses.dataclass
class ClipFrame:
    clean: np.ndarray  # uint8 (H, W, 3)
    occluded: np.ndarray  # uint8 (H, W, 3)
    mask: np.ndarray  # bool (H, W): pixels the subtitle changed
    landmarks: list  # [(5, 2) float] per face, x, y


@functools.lru_cache(maxsize=32)
def _subtitle_layers(text, height, outline, colour):
    """(fill alpha, outline alpha) float32 arrays of one line whose capitals are `height` px tall."""
    size = max(6, round(height * 1.4))
    font = assets.text_font(SUBTITLE_FONT, size)
    left, top, right, bottom = font.getbbox(text, stroke_width=outline)
    width, tall = right - left + 2 * outline + 4, bottom - top + 2 * outline + 4
    fill, stroke = Image.new("L", (width, tall), 0), Image.new("L", (width, tall), 0)
    origin = (-left + outline + 2, -top + outline + 2)
    ImageDraw.Draw(stroke).text(origin, text, font=font, fill=255, stroke_width=outline, stroke_fill=255)
    ImageDraw.Draw(fill).text(origin, text, font=font, fill=255)
    return np.asarray(fill, np.float32) / 255.0, np.asarray(stroke, np.float32) / 255.0


def draw_subtitles(frame, subtitles, index):
    """(occluded frame, mask) of `frame` (uint8 RGB) under the subtitles shown at `index`."""
    height, width = frame.shape[:2]
    image = frame.astype(np.float32)
    changed = np.zeros((height, width), np.float32)
    unit = height / 360.0
    for sub in subtitles:
        if not sub.shown(index):
            continue
        fill, stroke = _subtitle_layers(sub.text, max(4, round(sub.cap_height * height)),
                                        max(1, round(sub.outline * unit)), sub.colour)
        h, w = fill.shape
        x = int(round((width - w) / 2 - sub.scroll * unit * (index - sub.first)))
        y = int(round(sub.y * height - h / 2))
        ys, xs = slice(max(0, y), min(height, y + h)), slice(max(0, x), min(width, x + w))
        if ys.start >= ys.stop or xs.start >= xs.stop:
            continue
        part = (slice(ys.start - y, ys.stop - y), slice(xs.start - x, xs.stop - x))
        target = image[ys, xs]
        for alpha, colour in ((stroke[part], (16, 16, 16)), (fill[part], sub.colour)):
            target[:] = target * (1 - alpha[..., None]) + np.asarray(colour, np.float32) * alpha[..., None]
        changed[ys, xs] = np.maximum(changed[ys, xs], stroke[part])
    return np.clip(np.round(image), 0, 255).astype(np.uint8), changed >= _MASK_ALPHA


def default_subtitles(frames, y=0.62):
    """Two lines that appear, change and disappear over the clip: shown in its middle 70 %."""
    a, b, c = round(frames * 0.12), round(frames * 0.45), round(frames * 0.82)
    return (Subtitle("WHERE WERE YOU", a, b - 1, y), Subtitle("on the night of May 4?", b, c, y,
                                                              colour=(255, 232, 40)))


def _compose(after, before):
    """2x3: `after` following the inverse of `before` (both 2x3 maps from a common frame)."""
    return (np.vstack([after, [0, 0, 1]]) @ np.linalg.inv(np.vstack([before, [0, 0, 1]])))[:2]


def _feathered_ellipse():
    """Alpha of the pasted face in template coordinates: the head and a little around it."""
    y, x = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)
    d = np.sqrt(((x - 55.5) / 50.0) ** 2 + ((y - 58.0) / 58.0) ** 2)
    return np.clip((1.0 - d) / 0.12, 0.0, 1.0)


class FacesClip:
    """Rendered faces moving under subtitles (see the module docstring).

    size: (width, height); faces: how many, side by side; motion: 0 still, 1 the default paths."""

    def __init__(self, size=(640, 360), frames=48, faces=1, seed=0, subtitles=None, motion=1.0, blinks=True,
                 fps=25, background="coffee.png", background_blur=6.0):
        from c2fdan_tf.data.synthetic_faces_v2 import known_landmarks, render_faces

        self.width, self.height = size
        self.frames, self.faces, self.fps, self.motion = frames, faces, fps, motion
        self.subtitles = default_subtitles(frames) if subtitles is None else tuple(subtitles)
        identities, indices = [seed * 10 + k for k in range(faces)], [0] * faces
        if faces:
            # The face is cut out by a feathered ellipse and pasted on the clip's own photo: revision 4's
            # light backdrops and side props would show as a halo at its edge and move the clips' figures.
            still = {"mouth_open": 0.0, "light_backdrop": 0.0, "side_prop": 0.0}
            self.open = render_faces(seed, identities, indices, [{**still, "eye_open": 1.0}] * faces)
            self.closed = render_faces(seed, identities, indices, [{**still, "eye_open": 0.12}] * faces)
            self.points = known_landmarks(seed, identities, indices)
        rng = np.random.default_rng((seed, 7))
        self.phase = rng.uniform(0, 2 * np.pi, (faces, 4))
        self.blink_frames = {int(b) + d for b in rng.choice(np.arange(4, max(5, frames - 4)), max(1, frames // 30))
                             for d in (0, 1)} if blinks else set()
        photo = assets.natural_photo(background)
        self.background = cv2.GaussianBlur(cv2.resize(photo, (self.width, self.height), interpolation=cv2.INTER_AREA),
                                           (0, 0), background_blur * self.height / 360.0)
        self.alpha = _feathered_ellipse()

    def __len__(self):
        return self.frames

    def transform(self, face, index):
        """2x3 template -> frame matrix of face `face` at frame `index`."""
        t = index / self.fps
        p = self.phase[face]
        side = min(self.height * 0.78, self.width / max(self.faces, 1) * 0.95)
        scale = side / IMAGE_SIZE * (1.0 + 0.07 * self.motion * np.sin(0.9 * t + p[0]))
        angle = np.deg2rad(5.0 * self.motion * np.sin(0.7 * t + p[1]))
        cx = (face + 0.5) * self.width / self.faces + 0.05 * self.width * self.motion * np.sin(0.6 * t + p[2])
        cy = 0.5 * self.height + 0.04 * self.height * self.motion * np.sin(0.8 * t + p[3])
        cos, sin = scale * np.cos(angle), scale * np.sin(angle)
        c = (IMAGE_SIZE - 1) / 2.0
        return np.array([[cos, -sin, cx - cos * c + sin * c], [sin, cos, cy - sin * c - cos * c]])

    def motions(self, index):
        """[2x3 map of frame index - 1 onto frame index, per face] (None for the first frame)."""
        if index == 0:
            return [None] * self.faces
        return [_compose(self.transform(k, index), self.transform(k, index - 1)) for k in range(self.faces)]

    def frame(self, index):
        image = self.background.astype(np.float32)
        landmarks = []
        for k in range(self.faces):
            matrix = self.transform(k, index)
            face = (self.closed if index in self.blink_frames else self.open)[k]
            size = (self.width, self.height)
            warped = cv2.warpAffine(face, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
            alpha = cv2.warpAffine(self.alpha, matrix, size, flags=cv2.INTER_LINEAR, borderValue=0.0)[..., None]
            image = image * (1 - alpha) + warped.astype(np.float32) * alpha
            landmarks.append(np.c_[self.points[k], np.ones(5)] @ matrix.T)
        clean = np.clip(np.round(image), 0, 255).astype(np.uint8)
        occluded, mask = draw_subtitles(clean, self.subtitles, index)
        return ClipFrame(clean, occluded, mask, landmarks)


class PannedPhotoClip:
    """A real photo seen through a camera window that pans and zooms, under a scrolling subtitle.

    landmarks: the photo's face's five points (x, y), e.g. from MTCNN."""

    def __init__(self, photo, landmarks, size=(480, 360), frames=48, fps=25, subtitles=None):
        self.photo, self.points = np.asarray(photo, np.uint8), np.asarray(landmarks, np.float64)
        self.width, self.height = size
        self.frames, self.fps, self.faces = frames, fps, 1
        centre = self.points.mean(0)
        self.start, self.end = centre + (-25.0, -10.0), centre + (20.0, 12.0)
        self.subtitles = (Subtitle("MISSION STS-93 BEGINS TONIGHT", round(frames * 0.1), round(frames * 0.9), 0.66,
                                   cap_height=0.07, scroll=6.0),) if subtitles is None else tuple(subtitles)

    def __len__(self):
        return self.frames

    def transform(self, index):
        """2x3 photo -> frame matrix: the window's centre moves along a line, its zoom grows 25 %."""
        t = index / max(1, self.frames - 1)
        centre = self.start + (self.end - self.start) * t
        eye = np.linalg.norm(self.points[1] - self.points[0])
        scale = self.height * 0.22 / eye * (1.0 + 0.25 * t)
        return np.array([[scale, 0.0, self.width / 2 - scale * centre[0]],
                         [0.0, scale, self.height / 2 - scale * centre[1]]])

    def motions(self, index):
        """[2x3 map of frame index - 1 onto frame index] (the camera's; None for the first frame)."""
        return [None] if index == 0 else [_compose(self.transform(index), self.transform(index - 1))]

    def frame(self, index):
        matrix = self.transform(index)
        clean = cv2.warpAffine(self.photo, matrix, (self.width, self.height), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REFLECT101)
        occluded, mask = draw_subtitles(clean, self.subtitles, index)
        return ClipFrame(clean, occluded, mask, [np.c_[self.points, np.ones(5)] @ matrix.T])


def write_clip(clip, path, codec="libx264", audio=True, subtitle_track=False, rotation=0, crf=16, frames=None,
               clean=False, pixel_format="yuv420p", frame_times=None):
    """Encodes the clip's occluded (or `clean`) frames to `path` at its frame rate. audio: a 440 Hz
    tone the clip's length (AAC); subtitle_track: one text subtitle (SubRip in Matroska, mov_text
    in MP4); rotation: a display rotation in degrees (the frames are stored turned the other way,
    so they show upright); pixel_format: e.g. "yuv420p10le" for 10-bit; frame_times: each frame's
    time in seconds (a variable frame rate; milliseconds are the time base)."""
    import av

    frames = len(clip) if frames is None else frames
    rate = fractions.Fraction(clip.fps)
    with av.open(str(path), "w") as out:
        turns = int(round(rotation / 90.0)) % 4
        width, height = (clip.height, clip.width) if turns % 2 else (clip.width, clip.height)
        video = out.add_stream(codec, rate=rate, options={"crf": str(crf)} if codec in ("libx264", "libx265") else {})
        video.width, video.height, video.pix_fmt = width, height, pixel_format
        time_base = 1 / rate if frame_times is None else fractions.Fraction(1, 1000)
        video.time_base = video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=44100, layout="mono") if audio else None
        if subtitle_track:
            text = out.add_mux_stream("subrip" if str(path).endswith(".mkv") else "mov_text")
            text.time_base = fractions.Fraction(1, 1000)
            line = b"A subtitle track, copied untouched"
            payload = line if str(path).endswith(".mkv") else len(line).to_bytes(2, "big") + line
            packet = av.Packet(payload)
            packet.stream, packet.pts, packet.dts, packet.duration = text, 40, 40, 1000
            packet.time_base = text.time_base
            out.mux(packet)
        for i in range(frames):
            f = clip.frame(i)
            image = np.ascontiguousarray(np.rot90(f.clean if clean else f.occluded, -turns))
            vf = av.VideoFrame.from_ndarray(image, format="rgb24")
            if pixel_format != "yuv420p":
                vf = vf.reformat(format=pixel_format)
            vf.pts = i if frame_times is None else round(frame_times[i] * 1000)
            vf.time_base = time_base
            for packet in video.encode(vf):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            samples = int(44100 * frames / clip.fps)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 44100)).astype(np.float32)
            for start in range(0, samples, 1024):
                af = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="fltp", layout="mono")
                af.sample_rate, af.pts = 44100, start
                for packet in sound.encode(af):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path
