"""Reading and writing videos with PyAV (FFmpeg): frames in, frames out, the other streams copied.

`VideoReader(path)` opens any container and codec FFmpeg reads and yields, in file order, the
video stream's decoded frames and every packet of the audio and subtitle streams. `VideoWriter`
encodes the completed frames with the input's size, frame timing (each frame keeps its
presentation time: a variable frame rate stays variable) and display rotation, and muxes the
audio and subtitle packets untouched (no re-encoding). It writes `<target>.partial` and renames
it to the target only when the video is complete: an interrupted run never leaves a file that
looks finished.

Frames are handled as 8-bit planar YUV 4:2:0 (`YuvFrame`): the luma plane is the tracker's
grey image, and a completed face is written back into the planes only where its mask is on,
so every pixel outside the masks keeps the exact value it was decoded with (other pixel
formats are converted to 4:2:0 first; deeper than 8 bits is said once).
"""

import dataclasses
import fractions
import os
from pathlib import Path

import numpy as np

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".flv",
                  ".wmv", ".ogv", ".3gp")
# The muxer of an output by its suffix (the partial file's own suffix says nothing).
_OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi",
                   ".mpg": "mpeg", ".mpeg": "mpeg", ".ts": "mpegts", ".m2ts": "mpegts", ".mts": "mpegts",
                   ".flv": "flv", ".wmv": "asf", ".ogv": "ogg", ".3gp": "3gp"}
# Encoders for the input's codec (the output keeps it where FFmpeg can encode it), else libx264.
_ENCODERS = {"h264": "libx264", "hevc": "libx265", "vp9": "libvpx-vp9", "vp8": "libvpx", "mpeg4": "mpeg4",
             "ffv1": "ffv1", "mjpeg": "mjpeg"}
_WEBM_DEFAULT = "libvpx-vp9"
# Visually lossless settings a user would pick; the speed is the encoder's fastest that keeps quality.
_ENCODER_OPTIONS = {"libx264": {"crf": "18", "preset": "veryfast"}, "libx265": {"crf": "20", "preset": "veryfast"},
                    "libvpx-vp9": {"crf": "24", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
                    "libvpx": {"crf": "10", "b": "2M", "deadline": "realtime", "cpu-used": "8"},
                    "mpeg4": {"qscale": "2"}, "mjpeg": {"qscale": "2"}}
_PLANAR_420 = ("yuv420p", "yuvj420p")


class VideoError(ValueError):
    """The video cannot be read or written (one line naming the file)."""


def is_video_path(path):
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _reason(error):
    text = str(getattr(error, "strerror", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@dataclasses.dataclass
class VideoInfo:
    path: Path
    width: int
    height: int
    rate: fractions.Fraction  # average frames a second (a variable rate keeps each frame's own time)
    time_base: fractions.Fraction
    frames: int  # 0 when the container does not say
    rotation: int  # display rotation, degrees counter-clockwise
    pixel_format: str
    codec: str
    bit_depth: int
    copied_streams: list  # descriptions of the audio and subtitle streams

    duration: float  # seconds the container announces, 0 if it does not say

    @property
    def announced_frames(self):
        """Frames the header announces (its frame count, else its duration at the average rate), or 0."""
        return self.frames or int(round(self.duration * float(self.rate)))

    @property
    def expected_frames(self):
        return self.announced_frames or None


class YuvFrame:
    """One decoded frame as 8-bit YUV 4:2:0 planes (even sizes) or, otherwise, an RGB array.

    `rgb()` converts once and keeps the result; `paste(region, rgb, mask)` writes a completed
    region back where `mask` is on and nowhere else."""

    def __init__(self, frame):
        self.pts, self.time_base = frame.pts, frame.time_base
        self.width, self.height = frame.width, frame.height
        self.planar = frame.format.name in _PLANAR_420 and self.width % 2 == 0 and self.height % 2 == 0
        if not self.planar and self.width % 2 == 0 and self.height % 2 == 0:
            frame, self.planar = frame.reformat(format="yuv420p"), True
        if self.planar:
            self.format = frame.format.name
            self.planes = frame.to_ndarray()  # (3h/2, w): Y, then U and V each h/4 rows of w
            self._rgb = None
        else:  # odd sizes: the whole frame in RGB
            self.format, self.planes, self._rgb = "rgb24", None, frame.to_ndarray(format="rgb24")

    @property
    def luma(self):
        if self.planar:
            return self.planes[: self.height]
        import cv2

        return cv2.cvtColor(self._rgb, cv2.COLOR_RGB2GRAY)

    def rgb(self):
        if self._rgb is None:
            import av

            self._rgb = av.VideoFrame.from_ndarray(self.planes, format=self.format).to_ndarray(format="rgb24")
        return self._rgb

    def paste(self, region, rgb, mask):
        """Writes `rgb` (uint8, the region's size) where `mask` (the region's size, > 0 = pasted) is on.
        region: (y0, y1, x0, x1); for planar frames its corners must be even."""
        y0, y1, x0, x1 = region
        on = mask > 0
        if self._rgb is not None:
            self._rgb[y0:y1, x0:x1][on] = rgb[on]
        if not self.planar:
            return
        import av

        h, w = y1 - y0, x1 - x0
        yuv = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format=self.format)
        yuv = yuv.to_ndarray()
        self.planes[y0:y1, x0:x1][on] = yuv[:h][on]
        chroma_on = on.reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3))
        for k in range(2):  # U then V
            full = self.planes[self.height:].reshape(2, self.height // 2, self.width // 2)[k]
            part = yuv[h:].reshape(2, h // 2, w // 2)[k]
            full[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2][chroma_on] = part[chroma_on]

    def to_av(self):
        import av

        if self.planar:
            frame = av.VideoFrame.from_ndarray(self.planes, format=self.format)
        else:
            frame = av.VideoFrame.from_ndarray(self._rgb, format="rgb24")
        frame.pts, frame.time_base = self.pts, self.time_base
        return frame


class VideoReader:
    """The frames of a video's first video stream and the packets of its audio and subtitle streams.

    Iterate it: ("frame", YuvFrame) and ("packet", av.Packet) in file order. A file that ends
    early or breaks mid-way stops the iteration; `stopped` then says why (one line)."""

    def __init__(self, path):
        import av

        self.path = Path(path)
        if not self.path.is_file():
            raise VideoError(f"{self.path}: no such file")
        try:
            self.container = av.open(str(self.path), "r")
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
            raise VideoError(f"{self.path}: not a video FFmpeg can read ({_reason(error)})") from None
        if not self.container.streams.video:
            self.container.close()
            raise VideoError(f"{self.path}: has no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.copied = [s for s in self.container.streams if s.type in ("audio", "subtitle")]
        self.stopped = None
        self.frames_read = 0
        context = self.stream.codec_context
        if not context.width or not context.height:
            self.container.close()
            raise VideoError(f"{self.path}: its video stream has no frame size (damaged header)")
        self._pending = []
        self._iterator = self._items()
        self.info = self._probe()

    def _probe(self):
        stream = self.stream
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate or fractions.Fraction(25)
        pixel_format = stream.codec_context.pix_fmt or "unknown"
        depth = 8
        for marker, bits in (("p10", 10), ("p12", 12), ("p16", 16), ("p9", 9)):
            if marker in pixel_format:
                depth = bits
        # The rotation is a property of the decoded frames (the display matrix): read up to the first.
        rotation = 0
        for kind, item in self._iterator:
            self._pending.append((kind, item))
            if kind == "frame":
                rotation = item.rotation
                break
        copied = [f"{s.type} #{s.index} ({s.codec_context.name if s.codec_context else '?'})" for s in self.copied]
        duration = 0.0
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif self.container.duration:
            duration = self.container.duration / 1_000_000  # AV_TIME_BASE
        return VideoInfo(self.path, stream.codec_context.width, stream.codec_context.height, fractions.Fraction(rate),
                         stream.time_base, int(stream.frames or 0), rotation, pixel_format, stream.codec_context.name,
                         depth, copied, duration)

    def _items(self):
        import av

        streams = [self.stream] + self.copied
        index = 0
        try:
            for packet in self.container.demux(streams):
                if packet.stream.type != "video":
                    if packet.dts is not None:
                        yield "packet", packet
                    continue
                for frame in packet.decode():
                    wrapped = YuvFrame(frame)
                    wrapped.rotation = int(round(frame.rotation or 0))
                    if wrapped.pts is None:  # a raw stream without timestamps: one frame a tick of the rate
                        wrapped.pts = index
                    index += 1
                    self.frames_read = index
                    yield "frame", wrapped
        except av.error.FFmpegError as error:
            self.stopped = f"{self.path}: decoding stopped after frame {index} ({_reason(error)})"

    def __iter__(self):
        while self._pending:
            yield self._pending.pop(0)
        yield from self._iterator

    def close(self):
        self.container.close()


def encoder_for(info, suffix, requested=None):
    """(codec name, options) for an output: `requested`, else the input's codec where FFmpeg can
    encode it into that container, else libx264 (VP9 for WebM)."""
    import av

    if requested:
        name = requested
    elif suffix == ".webm":
        name = _ENCODERS.get(info.codec) if info.codec in ("vp8", "vp9") else _WEBM_DEFAULT
    else:
        name = _ENCODERS.get(info.codec, "libx264")
    if name not in av.codecs_available:
        if requested:
            raise VideoError(f"the encoder {requested} is not in this FFmpeg build")
        name = "libx264"
    return name, dict(_ENCODER_OPTIONS.get(name, {}))


class VideoWriter:
    """Encodes frames to `target` via `<target>.partial`, copying the reader's other streams.

    Use as a context manager: leaving it normally renames the partial file to the target;
    leaving it by an exception (Ctrl-C included) deletes the partial file."""

    def __init__(self, target, reader, codec=None, log=print, copy_streams=True):
        import av

        self.target = Path(target)
        suffix = self.target.suffix.lower()
        if suffix not in _OUTPUT_FORMATS:
            raise VideoError(f"{self.target}: unknown video container {suffix!r}; use one of "
                             f"{', '.join(sorted(_OUTPUT_FORMATS))}")
        self.partial = self.target.with_name(self.target.name + ".partial")
        info = reader.info
        name, options = encoder_for(info, suffix, codec)
        try:
            self.container = av.open(str(self.partial), "w", format=_OUTPUT_FORMATS[suffix])
        except (av.error.FFmpegError, OSError) as error:
            raise VideoError(f"{self.partial}: cannot be written ({_reason(error)})") from None
        even = info.width % 2 == 0 and info.height % 2 == 0
        self.stream = self.container.add_stream(name, rate=info.rate, options=options)
        self.stream.width, self.stream.height = info.width, info.height
        self.stream.pix_fmt = "yuv420p" if even else "yuv444p"
        self.stream.time_base = info.time_base
        self.stream.codec_context.time_base = info.time_base
        if info.rotation:
            self.stream.set_display_rotation(info.rotation)
        self.copies = {}
        for source in reader.copied if copy_streams else ():
            try:
                self.copies[source.index] = self.container.add_stream_from_template(source)
            except (av.error.FFmpegError, ValueError) as error:
                log(f"warning: {info.path}: {source.type} stream #{source.index} is not copied ({_reason(error)})")
        self.codec = name
        self.frames_written = 0

    def write(self, frame):
        for packet in self.stream.encode(frame.to_av()):
            self.container.mux(packet)
        self.frames_written += 1

    def copy(self, packet):
        target = self.copies.get(packet.stream.index)
        if target is not None:
            packet.stream = target
            self.container.mux(packet)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
            os.replace(self.partial, self.target)
        else:
            try:
                self.container.close()
            except Exception:  # noqa: BLE001 - the partial file goes whatever the muxer says
                pass
            self.partial.unlink(missing_ok=True)
        return False
