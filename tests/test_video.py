"""Videos end to end with the packaged int8 model and the real MTCNN: streams kept, timing and
rotation kept, pixels outside the masks as decoded, stability measured, bad input refused in one
line, an interrupted run leaving nothing that looks finished."""

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from c2fdan_tf.data.video_clips import FacesClip, Subtitle, write_clip
from c2fdan_tf.inference import load_runner
from c2fdan_tf.pretrained_model import pretrained_path
from c2fdan_tf.video import VideoError, VideoOptions, VideoReader, complete_video
from c2fdan_tf.video.completion import VideoCompleter

ROOT = Path(__file__).resolve().parents[1]
SIZE = (320, 240)


@pytest.fixture(scope="module")
def runner():
    return load_runner(str(pretrained_path("tflite_int8")), num_threads=1)


@pytest.fixture(scope="module")
def clip():
    subtitles = (Subtitle("WHERE WERE YOU", 3, 11, 0.62, cap_height=0.07),
                 Subtitle("last night?", 12, 17, 0.62, cap_height=0.07, colour=(255, 232, 40)))
    return FacesClip(SIZE, frames=20, seed=3, subtitles=subtitles)


@pytest.fixture(scope="module")
def clip_file(clip, tmp_path_factory):
    return write_clip(clip, tmp_path_factory.mktemp("video") / "clip.mp4", subtitle_track=True)


def packets(path, kind):
    with av.open(str(path)) as container:
        return [(bytes(p), p.pts, p.duration) for p in container.demux() if p.stream.type == kind and p.size]


def frame_times(path):
    with av.open(str(path)) as container:
        return [(float(f.time), f.rotation, f.width, f.height) for f in container.decode(video=0)]


def test_a_video_keeps_its_streams_timing_and_size(runner, clip, clip_file, tmp_path):
    target = tmp_path / "out.mp4"
    summary = complete_video(runner, clip_file, target, mask_target=tmp_path / "mask.mp4")
    assert summary.frames == len(clip) and summary.frames_with_faces == len(clip)
    assert summary.frames_completed >= 15  # the subtitle is on 15 of the 20 frames
    assert frame_times(target) == frame_times(clip_file)
    assert packets(target, "audio") == packets(clip_file, "audio")  # copied, not re-encoded
    assert [p[0] for p in packets(target, "subtitle") if len(p[0]) > 2] == \
        [p[0] for p in packets(clip_file, "subtitle") if len(p[0]) > 2]
    assert len(frame_times(tmp_path / "mask.mp4")) == len(clip)
    assert not list(tmp_path.glob("*.partial"))
    assert set(summary.seconds) == {"decoding", "detection", "tracking", "completion", "paste-back", "encoding"}


def test_pixels_outside_the_pasted_masks_are_exactly_as_decoded(runner, clip_file):
    reader = VideoReader(clip_file)
    completer, originals, results = VideoCompleter(runner), [], []
    for kind, frame in reader:
        if kind == "frame":
            originals.append(frame.planes.copy())
            results += completer.push(frame, float(frame.pts * frame.time_base))
    results += completer.finish()
    height = SIZE[1]
    pasted = 0
    for result, original in zip(results, originals):
        untouched = result.mask == 0
        np.testing.assert_array_equal(result.frame.planes[:height][untouched], original[:height][untouched])
        chroma_untouched = untouched.reshape(height // 2, 2, SIZE[0] // 2, 2).all(axis=(1, 3))
        for k in range(2):
            new = result.frame.planes[height:].reshape(2, height // 2, SIZE[0] // 2)[k]
            old = original[height:].reshape(2, height // 2, SIZE[0] // 2)[k]
            np.testing.assert_array_equal(new[chroma_untouched], old[chroma_untouched])
        pasted += int((result.frame.planes[:height] != original[:height]).any())
    assert pasted >= 15


def test_stability_parts_reduce_flicker_without_losing_mask_or_psnr(runner, clip):
    from c2fdan_tf.evaluation.video import measure_clip

    per_frame = measure_clip(runner, clip, VideoOptions.per_frame())
    stable = measure_clip(runner, clip, VideoOptions())
    assert stable.frames_with_faces == 1.0
    assert stable.flicker < 0.5 * per_frame.flicker, (stable, per_frame)
    assert stable.mask_iou >= per_frame.mask_iou - 0.02 and stable.psnr >= per_frame.psnr - 0.2
    assert stable.left < 0.6 and stable.psnr > stable.psnr_input  # the subtitle mostly removed from the face
    # Tracking and smoothing steady the crop; blending steadies the fill in it.
    assert 0 < stable.alignment_jitter < 0.7 * per_frame.alignment_jitter
    assert 0 < stable.fill_change < 0.7 * per_frame.fill_change


def test_rotation_variable_frame_rate_and_10_bit(runner, tmp_path):
    moving = FacesClip(SIZE, frames=8, seed=4, subtitles=(Subtitle("HELLO THERE", 0, 7, 0.62, cap_height=0.07),))
    times = [0.0, 0.04, 0.08, 0.2, 0.24, 0.5, 0.54, 0.58]
    rotated = write_clip(moving, tmp_path / "rotated.mov", rotation=90, frame_times=times, audio=False)
    summary = complete_video(runner, rotated, tmp_path / "rotated_out.mov")
    assert summary.frames_with_faces == 8  # found upright, though stored sideways
    out, source = frame_times(tmp_path / "rotated_out.mov"), frame_times(rotated)
    assert [round(t, 3) for t, *_ in source] == times  # the input is stored with a variable rate
    assert [round(t, 3) for t, *_ in out] == times
    assert {(r % 360, w, h) for _, r, w, h in out} == {(90, SIZE[1], SIZE[0])}
    deep = write_clip(moving, tmp_path / "deep.mkv", pixel_format="yuv420p10le", audio=False)
    summary = complete_video(runner, deep, tmp_path / "deep_out.mkv")
    assert summary.frames == 8 and summary.frames_completed >= 6
    assert any("10-bit" in line and "8-bit" in line for line in summary.warnings)


def test_4k_and_a_video_without_faces(runner, tmp_path):
    big = FacesClip((3840, 2160), frames=3, seed=4, subtitles=(Subtitle("WHERE WERE YOU", 0, 2, 0.7),))
    summary = complete_video(runner, write_clip(big, tmp_path / "big.mp4", audio=False), tmp_path / "big_out.mp4")
    assert summary.frames == 3 and summary.frames_with_faces == 3
    assert frame_times(tmp_path / "big_out.mp4")[0][2:] == (3840, 2160)
    empty = FacesClip(SIZE, frames=4, faces=0, subtitles=(Subtitle("NOBODY HERE", 0, 3, 0.5),))
    source = write_clip(empty, tmp_path / "empty.mp4", audio=False)
    summary = complete_video(runner, source, tmp_path / "empty_out.mp4")
    assert summary.frames == 4 and summary.frames_with_faces == 0 and summary.frames_completed == 0


class Interrupting:
    """The real runner, with Ctrl-C pressed during its fifth call."""

    def __init__(self, runner):
        self.runner, self.calls, self.takes_masks, self.needs_masks = runner, 0, False, False

    def __call__(self, faces):
        self.calls += 1
        if self.calls == 5:
            raise KeyboardInterrupt
        return self.runner(faces)


def test_an_interrupted_run_leaves_no_file_that_looks_finished(runner, clip_file, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        complete_video(Interrupting(runner), clip_file, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def mask_frames(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray") > 128 for f in container.decode(video=0)]


def test_a_given_mask_is_used_for_every_frame(clip_file, tmp_path):
    from PIL import Image

    given_runner = load_runner(str(pretrained_path("given_mask")), num_threads=1)
    mask = np.zeros(SIZE[::-1], np.uint8)
    mask[140:160, 100:220] = 255  # a band over the mouth, in the frame's coordinates
    Image.fromarray(mask).save(tmp_path / "mask.png")
    summary = complete_video(given_runner, clip_file, tmp_path / "out.mp4", mask=tmp_path / "mask.png",
                             mask_target=tmp_path / "out_mask.mp4")
    assert summary.frames_completed == summary.frames
    pasted = mask_frames(tmp_path / "out_mask.mp4")
    outside = np.ones(SIZE[::-1], bool)
    outside[130:170, 90:230] = False  # the band grown by the paste's seam and the codec's blur
    assert all(p[145:155, 120:200].all() and not p[outside].any() for p in pasted)
    # The mask video written goes back in as a mask video (--mask=<name>_mask.mp4): the same band.
    again = complete_video(given_runner, clip_file, tmp_path / "again.mp4", mask=tmp_path / "out_mask.mp4",
                           mask_target=tmp_path / "again_mask.mp4")
    assert again.frames_completed == again.frames
    repasted = mask_frames(tmp_path / "again_mask.mp4")
    grown = np.ones(SIZE[::-1], bool)
    grown[125:175, 85:235] = False  # the band, grown once more by the second paste's seam
    assert all(p[145:155, 120:200].all() and not p[grown].any() for p in repasted)
    with pytest.raises(VideoError, match="given mask"):
        complete_video(load_runner(str(pretrained_path("tflite_int8"))), clip_file, tmp_path / "x.mp4",
                       mask=tmp_path / "mask.png")


def run_complete(*args):
    return subprocess.run([sys.executable, "-m", "c2fdan_tf.commands.complete", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)


def test_complete_command_on_videos_good_and_bad(clip_file, tmp_path):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    (inputs / "clip.mp4").write_bytes(clip_file.read_bytes())
    (inputs / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(20000))
    (inputs / "truncated.mp4").write_bytes(clip_file.read_bytes()[: clip_file.stat().st_size // 2])
    with av.open(str(inputs / "sound.mp4"), "w") as container:  # audio only
        stream = container.add_stream("aac", rate=44100, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 44100, 0
        for packet in list(stream.encode(frame)) + list(stream.encode()):
            container.mux(packet)
    model = f"--model={pretrained_path('tflite_int8')}"
    result = run_complete(model, f"--input={inputs}", f"--output={out}", "--video_masks")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["clip_completed.mp4", "clip_mask.mp4"]
    assert "clip.mp4: 20 frames, a face in 20" in result.stdout and "1 of 4 input(s) processed" in result.stdout
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 3 and "Traceback" not in result.stderr
    reasons = {Path(line.split(":")[0].split()[-1]).name: line for line in skipped}
    assert "not a video FFmpeg can read" in reasons["corrupt.mp4"]
    assert "not a video FFmpeg can read" in reasons["truncated.mp4"]  # MP4's index is at its end
    assert "has no video stream" in reasons["sound.mp4"]
    again = run_complete(model, f"--input={inputs / 'clip.mp4'}", f"--output={out}")
    assert again.returncode == 1 and "exists (use --overwrite)" in again.stderr


def test_a_truncated_stream_gives_the_frames_before_the_cut(runner, clip, tmp_path):
    # Matroska streams need no index; MPEG-4 part 2 without B-frames: bytes follow frames.
    source = write_clip(clip, tmp_path / "clip.mkv", audio=False, codec="mpeg4")
    with av.open(str(source)) as container:
        positions = [p.pos for p in container.demux(video=0) if p.size]
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(source.read_bytes()[: positions[12] + 10])  # inside the 13th frame's packet
    summary = complete_video(runner, cut, tmp_path / "cut_out.mkv")
    assert summary.frames == 12
    assert len(frame_times(tmp_path / "cut_out.mkv")) == summary.frames
    assert any(f"{summary.frames} frames" in line and "cut.mkv" in line for line in summary.warnings), summary.warnings
