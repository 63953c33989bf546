"""Video: faces found, followed, completed and pasted back in every frame, stable over time.

`complete_video(runner, source, target)` (completion.py) over `streams` (PyAV reading and
writing, other streams copied), `tracking` (detection, Lucas-Kanade, One-Euro smoothing, scene
cuts) and `temporal` (mask fusion with hysteresis, fill blending).
"""

from c2fdan_tf.video.completion import FrameResult, VideoCompleter, VideoOptions, VideoSummary, complete_video
from c2fdan_tf.video.streams import VideoError, VideoReader, VideoWriter, is_video_path

__all__ = [
    "FrameResult",
    "VideoCompleter",
    "VideoError",
    "VideoOptions",
    "VideoReader",
    "VideoSummary",
    "VideoWriter",
    "complete_video",
    "is_video_path",
]
