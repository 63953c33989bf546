"""The video benchmark: completion of clips with known ground truth, per frame and over time.

For a clip (`data.video_clips`) and `VideoOptions`, `measure_clip` feeds the occluded frames,
as a decoder would give them (8-bit YUV 4:2:0), through `video.VideoCompleter` and compares
the output with the clean frames passed through the same conversion, inside each face's
region (the part of the frame the aligned 112x112 square of its true landmarks covers):

- PSNR of the output against the clean frames over the regions' pixels of the whole clip (one
  mean squared error), SSIM over each region's bounding box, mean over frames;
- mask IoU: the pasted mask against the true occluder mask, pooled over the clip (sums of
  intersections and unions), and the occluder contrast left (sum |out - clean| / sum
  |occluded - clean| over the true mask);
- temporal flicker: the mean |out_t - out_{t-1}| (grey levels) over the pixels the true mask
  covers in either frame, minus the same for the clean video (0: as stable as the original).
  The region is the same for every variant, so the numbers compare. A fill that moves with a
  moving face counts as flicker there when it has more texture than the face it replaces; the
  motion-compensated flicker (`motion_flicker`) warps out_{t-1} by the face's known motion
  first, and counts only what changed.

`VARIANTS` are the stability parts switched on and off; `measure_variants` runs them all.
"""

import dataclasses

import numpy as np

from c2fdan_tf.video.completion import VideoCompleter, VideoOptions

VARIANTS = {
    "per frame (no stability part)": VideoOptions.per_frame(),
    "all stability parts": VideoOptions(),
    "without tracking and smoothing": VideoOptions(detect_every=1, smooth_landmarks=False),
    "without mask fusion": VideoOptions(fuse_masks=False),
    "without fill blending": VideoOptions(blend_fill=False),
}
PER_FRAME, STABLE = "per frame (no stability part)", "all stability parts"


def as_decoded(rgb):
    """(YuvFrame, RGB as a player shows it) of an RGB frame passed through 8-bit YUV 4:2:0."""
    import av

    from c2fdan_tf.video.streams import YuvFrame

    frame = YuvFrame(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p"))
    return frame, shown(frame)


def shown(frame):
    """The RGB of a YuvFrame's planes (what an encoder receives), not its cached RGB."""
    import av

    if not frame.planar:
        return frame.rgb()
    return av.VideoFrame.from_ndarray(frame.planes, format=frame.format).to_ndarray(format="rgb24")


def face_regions(landmarks, shape):
    """bool (H, W): the union of the regions the faces' aligned squares cover."""
    from c2fdan_tf.video.tracking import face_region

    region = np.zeros(shape[:2], bool)
    for points in landmarks:
        y0, y1, x0, x1 = face_region(points, shape)
        region[y0:y1, x0:x1] = True
    return region


def _squared_error(a, b, where):
    """(sum of squared errors in [0, 1] units, values) over the pixels `where`."""
    difference = (a[where].astype(np.float64) - b[where].astype(np.float64)) / 255.0
    return float(np.sum(difference ** 2)), difference.size


def _pooled_psnr(pairs):
    """PSNR of the summed squared error over all frames (a frame without occluder adds no error)."""
    total = count = 0.0
    for a, b, where in pairs:
        error, size = _squared_error(a, b, where)
        total, count = total + error, count + size
    return float(10 * np.log10(count / total)) if total > 0 else float("inf")


def _ssim_box(a, b, where):
    from c2fdan_tf.image_metrics import ssim

    ys, xs = np.nonzero(where)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    return float(ssim(a[box][None] / 255.0, b[box][None] / 255.0)[0])


def flicker(frames, reference, masks, regions):
    """Mean |frames_t - frames_{t-1}| (grey levels) over the pixels of masks_t | masks_{t-1} inside
    regions_t & regions_{t-1}, minus the same for `reference`; pooled over all frame pairs."""
    total = reference_total = count = 0.0
    for t in range(1, len(frames)):
        where = (masks[t] | masks[t - 1]) & regions[t] & regions[t - 1]
        if not where.any():
            continue
        total += np.abs(frames[t].astype(np.float64) - frames[t - 1])[where].sum()
        reference_total += np.abs(reference[t].astype(np.float64) - reference[t - 1])[where].sum()
        count += where.sum() * frames[0].shape[-1]
    return float((total - reference_total) / count) if count else 0.0


def motion_flicker(frames, reference, masks, squares, motions):
    """`flicker` with the motion taken out: |frames_t - W(frames_{t-1})| with W each face's true
    motion from t-1 to t (inside that face's square), minus the same for `reference`. A fill that
    moves with the face costs nothing here; one that changes does (the warping error of
    Lai et al., ECCV 2018, with the clip's known motion instead of optical flow)."""
    import cv2

    total = reference_total = count = 0.0
    for t in range(1, len(frames)):
        for square, before, motion in zip(squares[t], squares[t - 1], motions[t]):
            where = (masks[t] | masks[t - 1]) & square
            if not where.any() or motion is None:
                continue
            size = (frames[t].shape[1], frames[t].shape[0])
            for images, add in ((frames, True), (reference, False)):
                warped = cv2.warpAffine(images[t - 1], motion, size, flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REFLECT101)
                value = np.abs(images[t].astype(np.float64) - warped)[where].sum()
                if add:
                    total += value
                else:
                    reference_total += value
            count += where.sum() * frames[0].shape[-1]
    return float((total - reference_total) / count) if count else 0.0


def alignment_and_fill_change(results, true_landmarks):
    """(alignment jitter, fill change): the mean frame-to-frame change of the offset between the
    points a face was aligned with and its true points (pixels), and the mean |fill_t - fill_{t-1}|
    of a face's aligned fill where both frames are masked (grey levels)."""
    from c2fdan_tf.inference.alignment import TEMPLATE

    offsets, fills, jitter, change = {}, {}, [], []
    for result, truth in zip(results, true_landmarks):
        for state in result.faces:
            inverse = cv2_invert(state.matrix)
            points = np.c_[TEMPLATE, np.ones(len(TEMPLATE))] @ inverse.T
            true = min(truth, key=lambda t: float(np.abs(t - points).mean()))
            offset = points - true
            if state.track in offsets and not state.new:
                jitter.append(float(np.abs(offset - offsets[state.track]).mean()))
                before_fill, before_mask = fills[state.track]
                both = state.mask & before_mask
                if both.any():
                    change.append(float(np.abs(state.fill - before_fill)[both].mean() * 255))
            offsets[state.track], fills[state.track] = offset, (state.fill, state.mask)
    return (float(np.mean(jitter)) if jitter else 0.0), (float(np.mean(change)) if change else 0.0)


def cv2_invert(matrix):
    import cv2

    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


@dataclasses.dataclass
class ClipMeasure:
    psnr: float
    ssim: float
    psnr_input: float  # the occluded input against the clean frames, same region
    mask_iou: float
    left: float  # occluder contrast left
    flicker: float
    motion_flicker: float  # the same after warping the earlier frame by the face's true motion
    alignment_jitter: float  # pixels a frame the aligned points move against the true face
    fill_change: float  # grey levels a frame the aligned fill changes where masked twice
    frames_with_faces: float  # share of frames where a face was completed or followed
    seconds_per_frame: float


def measure_clip(runner, clip, options, keep_frames=False):
    """ClipMeasure (and the output frames with keep_frames) of one clip under `options`."""
    import time

    completer = VideoCompleter(runner, options)
    inputs, clean, truth, regions, squares, landmarks = [], [], [], [], [], []
    outputs, masks, found = [], [], []
    start = time.perf_counter()
    results = []
    for i in range(len(clip)):
        f = clip.frame(i)
        frame, occluded = as_decoded(f.occluded)
        inputs.append(occluded)
        clean.append(as_decoded(f.clean)[1])
        truth.append(f.mask)
        regions.append(face_regions(f.landmarks, f.clean.shape))
        landmarks.append(f.landmarks)
        squares.append([face_regions([points], f.clean.shape) for points in f.landmarks])
        results += completer.push(frame, i / clip.fps)
    results += completer.finish()
    elapsed = time.perf_counter() - start
    for result in results:
        outputs.append(shown(result.frame))
        masks.append(result.mask >= 128)
        found.append(bool(result.faces))
    psnr = _pooled_psnr(zip(outputs, clean, regions))
    psnr_input = _pooled_psnr(zip(inputs, clean, regions))
    ssim = [_ssim_box(o, c, r) for o, c, r in zip(outputs, clean, regions)]
    intersection = sum(np.sum(m & t & r) for m, t, r in zip(masks, truth, regions))
    union = sum(np.sum((m | t) & r) for m, t, r in zip(masks, truth, regions))
    moved = sum(np.abs(o.astype(np.float64) - c)[t & r].sum() for o, c, t, r in zip(outputs, clean, truth, regions))
    occluder = sum(np.abs(x.astype(np.float64) - c)[t & r].sum() for x, c, t, r in zip(inputs, clean, truth, regions))
    measure = ClipMeasure(psnr, float(np.mean(ssim)), psnr_input,
                          float(intersection / union) if union else 0.0, float(moved / occluder) if occluder else 0.0,
                          flicker(outputs, clean, truth, regions),
                          motion_flicker(outputs, clean, truth, squares, [clip.motions(i) for i in range(len(clip))]),
                          *alignment_and_fill_change(results, landmarks),
                          float(np.mean(found)), elapsed / len(clip))
    if keep_frames:
        return measure, {"input": inputs, "output": outputs, "clean": clean, "mask": masks}
    return measure


def measure_variants(runner, clips, variants=VARIANTS, log=print):
    """{clip name: {variant: ClipMeasure as dict}} and the flicker ratio stable / per frame."""
    report = {}
    for name, clip in clips.items():
        report[name] = {}
        for variant, options in variants.items():
            m = measure_clip(runner, clip, options)
            report[name][variant] = dataclasses.asdict(m)
            log(f"  {name}, {variant}: PSNR {m.psnr:.2f} dB (input {m.psnr_input:.2f}), SSIM {m.ssim:.3f}, "
                f"mask IoU {m.mask_iou:.3f}, left {m.left:.3f}, flicker {m.flicker:+.2f} (motion-compensated "
                f"{m.motion_flicker:+.2f}); alignment jitter {m.alignment_jitter:.2f} px, fill change "
                f"{m.fill_change:.1f} a frame")
    return report


def video_targets(report):
    """The issue's targets per clip: flicker <= 25 % of per-frame completion's, IoU and PSNR no worse."""
    targets = {}
    for name, variants in report.items():
        stable, per_frame = variants[STABLE], variants[PER_FRAME]
        ratio = stable["flicker"] / per_frame["flicker"] if per_frame["flicker"] > 0 else 0.0
        targets[f"video, {name}: flicker <= 25 % of per-frame"] = {"met": ratio <= 0.25, "value": ratio}
        targets[f"video, {name}: mask IoU >= per-frame"] = {"met": stable["mask_iou"] >= per_frame["mask_iou"],
                                                           "value": stable["mask_iou"] - per_frame["mask_iou"]}
        targets[f"video, {name}: PSNR >= per-frame"] = {"met": stable["psnr"] >= per_frame["psnr"],
                                                       "value": stable["psnr"] - per_frame["psnr"]}
    return targets


def variants_table(report):
    lines = ["| clip | variant | PSNR (dB) | SSIM | mask IoU | occluder left | flicker (grey levels) | "
             "motion-compensated flicker | alignment jitter (px a frame) | fill change (grey levels a frame) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, variants in report.items():
        first = next(iter(variants.values()))
        lines.append(f"| {name} | occluded input | {first['psnr_input']:.2f} | | | 1.000 | | | | |")
        for variant, m in variants.items():
            lines.append(f"| {name} | {variant} | {m['psnr']:.2f} | {m['ssim']:.3f} | {m['mask_iou']:.3f} | "
                         f"{m['left']:.3f} | {m['flicker']:+.2f} | {m['motion_flicker']:+.2f} | "
                         f"{m['alignment_jitter']:.2f} | {m['fill_change']:.1f} |")
    return "\n".join(lines)


def frame_strip(frames, indices, rows=("input", "output")):
    """uint8 image: one row per kind of frame (input, output, ...) at the given frame indices."""
    return np.concatenate([np.concatenate([frames[row][i] for i in indices], axis=1) for row in rows], axis=0)


DEMO_SIZE = (640, 360)


def demo_video(runner, folder, seed, frames, key, model_name, log=print):
    """The main job's video: a rendered face moving under a subtitle that appears, changes and
    disappears (`frames` at 25 frames/s, with a sine-tone audio track), completed by `runner`
    into `completed.mp4` beside `subtitled.mp4`; `strip.png` shows six frames before and after;
    `report.json` holds the per-frame and stable measures of the same clip and their targets.
    A report made with the same `key` is reused. Returns the report."""
    import json
    import time
    from pathlib import Path

    from PIL import Image

    from c2fdan_tf.data.video_clips import FacesClip, write_clip
    from c2fdan_tf.video import complete_video

    started = time.perf_counter()
    folder = Path(folder)
    report_path = folder / "report.json"
    try:
        report = json.loads(report_path.read_text())
        if report.get("key") == key and (folder / "completed.mp4").exists():
            log("the demo video of this checkpoint already made, reused")
            return report
    except (OSError, ValueError):
        pass
    folder.mkdir(parents=True, exist_ok=True)
    clip = FacesClip(DEMO_SIZE, frames=frames, seed=seed)
    source = write_clip(clip, folder / "subtitled.mp4")
    summary = complete_video(runner, source, folder / "completed.mp4")
    log(summary.line())
    quality = {}
    for name in (PER_FRAME, STABLE):
        measure, kept = measure_clip(runner, clip, VARIANTS[name], keep_frames=True)
        quality[name] = dataclasses.asdict(measure)
    indices = np.linspace(0, len(kept["input"]) - 1, 6).round().astype(int)
    strip = frame_strip(kept, indices)
    Image.fromarray(strip[::2, ::2]).save(folder / "strip.png")
    report = {"key": key, "model": model_name, "frames": frames, "size": list(DEMO_SIZE),
              "frames_per_second": summary.frames_per_second,
              "ms_per_frame": {k: 1000 * v / max(summary.frames, 1) for k, v in summary.seconds.items()},
              "quality": {"demo clip": quality}}
    report["targets"] = video_targets(report["quality"])
    report["seconds"] = time.perf_counter() - started
    report_path.write_text(json.dumps(report, indent=1))
    return report
