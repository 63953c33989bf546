"""Video completion measured: quality and stability on clips with known ground truth, and speed.

Quality (`evaluation.video`): a rendered face moving (translation, scale, rotation, blinks)
under two subtitles that appear, change and disappear, and the astronaut photo panned and zoomed
under a scrolling subtitle; every stability part on and off (PSNR, SSIM, mask IoU, occluder
left, temporal flicker). Speed: `complete_video` on files written here (libx264) at 720p and
1080p with one face and with three, per stage (decoding, detection, tracking, completion,
paste-back, encoding), beside a transcode of the same file (decode + encode alone) measured in
the same run.

    python benchmarks/video_completion.py [--model=c2fdan_tf/pretrained/c2fdan_int8.tflite] [--frames=75]
        [--speed_frames=120] [--out=runs/video_benchmark]
"""

import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

_MODEL = flags.DEFINE_string("model", None, "The generator (default: the packaged int8 TFLite file).")
_FRAMES = flags.DEFINE_integer("frames", 75, "Frames of each quality clip.")
_SPEED_FRAMES = flags.DEFINE_integer("speed_frames", 120, "Frames of each speed clip.")
_THREADS = flags.DEFINE_integer("threads", 2, "LiteRT threads.")
_OUT = flags.DEFINE_string("out", "runs/video_benchmark", "Folder for report.json and the frame strip.")
_SKIP_SPEED = flags.DEFINE_bool("skip_speed", False, "Quality only.")


def quality_clips(frames):
    from c2fdan_tf.data.video_clips import FacesClip, PannedPhotoClip
    from c2fdan_tf.evaluation.real_photos import photo
    from c2fdan_tf.inference.alignment import detect_faces

    astronaut = photo("astronaut")
    return {"rendered face": FacesClip((640, 360), frames=frames, seed=3),
            "astronaut, panned": PannedPhotoClip(astronaut, detect_faces(astronaut)[0].landmarks, frames=frames)}


def transcode(source, target):
    """Seconds to decode and re-encode `source` with the same writer, nothing else (the baseline)."""
    from c2fdan_tf.video.streams import VideoReader, VideoWriter

    start = time.perf_counter()
    reader = VideoReader(source)
    with VideoWriter(target, reader) as writer:
        for kind, item in reader:
            writer.write(item) if kind == "frame" else writer.copy(item)
    reader.close()
    return time.perf_counter() - start


def speed(runner, frames, folder):
    from c2fdan_tf.data.video_clips import FacesClip, write_clip
    from c2fdan_tf.video import complete_video

    rows = {}
    for (width, height), faces in (((1280, 720), 1), ((1280, 720), 3), ((1920, 1080), 1), ((1920, 1080), 3)):
        name = f"{height}p, {faces} face{'s' if faces > 1 else ''}"
        source = Path(folder) / f"speed_{height}_{faces}.mp4"
        write_clip(FacesClip((width, height), frames=frames, faces=faces, seed=5), source)
        base = transcode(source, Path(folder) / f"transcoded_{height}_{faces}.mp4")
        summary = complete_video(runner, source, Path(folder) / f"completed_{height}_{faces}.mp4")
        stages = {k: 1000 * v / summary.frames for k, v in summary.seconds.items()}
        rows[name] = {"frames_per_second": summary.frames_per_second, "ms_per_frame": stages,
                      "transcode_frames_per_second": frames / base, "frames_completed": summary.frames_completed,
                      "faces_per_frame": summary.faces_per_frame,
                      "frames": summary.frames}
        print(f"{name}: {summary.frames_per_second:.1f} frames/s (transcode alone {frames / base:.1f}; "
              f"{summary.faces_per_frame:.2f} faces followed a frame); ms a frame: "
              + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()), flush=True)
    return rows


def main(argv):
    del argv
    import numpy as np
    from PIL import Image

    from c2fdan_tf import pretrained_model
    from c2fdan_tf.evaluation import video
    from c2fdan_tf.inference import load_runner
    from c2fdan_tf.inference.alignment import detect_faces

    model = _MODEL.value or str(pretrained_model.pretrained_path("tflite_int8"))
    runner = load_runner(model, num_threads=_THREADS.value)
    out = Path(_OUT.value)
    out.mkdir(parents=True, exist_ok=True)
    detect_faces(np.zeros((64, 64, 3), np.uint8))  # MTCNN's first call builds its graphs: not a frame's cost
    print(f"model: {model}\n\nquality ({_FRAMES.value} frames a clip; python benchmarks/video_completion.py):")
    clips = quality_clips(_FRAMES.value)
    report = {"model": model, "quality": video.measure_variants(runner, clips)}
    print("\n" + video.variants_table(report["quality"]))
    targets = video.video_targets(report["quality"])
    for name, result in targets.items():
        print(f"{'met    ' if result['met'] else 'NOT met'}  {name}  ({result['value']:+.3f})")
    report["targets"] = targets
    _, frames = video.measure_clip(runner, clips["rendered face"], video.VARIANTS[video.STABLE], keep_frames=True)
    indices = np.linspace(4, len(frames["input"]) - 5, 6).round().astype(int)
    Image.fromarray(video.frame_strip(frames, indices)).save(out / "strip.png")
    if not _SKIP_SPEED.value:
        print(f"\nspeed ({_SPEED_FRAMES.value} frames a clip, {_THREADS.value} LiteRT threads):")
        with tempfile.TemporaryDirectory() as folder:
            report["speed"] = speed(runner, _SPEED_FRAMES.value, folder)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(f"\n{out / 'report.json'}, {out / 'strip.png'}")


if __name__ == "__main__":
    app.run(main)
