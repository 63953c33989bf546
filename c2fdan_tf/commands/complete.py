"""Completes occluded faces with a trained C2FDAN model.

    python -m c2fdan_tf.commands.complete --model=runs/demo/export/c2fdan_int8.tflite --input=faces/ --output=out/
    c2fdan-complete --model=MODEL --input='photos/*.jpg' --output=out/ --align

--model: a .keras checkpoint, a SavedModel folder, a .tflite or an .onnx file; without it, the
model shipped in the package (c2fdan_tf/pretrained/, checked against its manifest's SHA-256).
--input: a file, a folder or a glob. Without --align, inputs are aligned 112x112
faces (others are centre-cropped and resized, with a warning). With --align,
every face of an arbitrary photo is found (MTCNN), aligned, completed, warped
back and pasted in only where the predicted mask is on.
Writes <name>_completed.png and <name>_mask.png per input (and
<name>_side_by_side.png with --side_by_side); existing outputs are kept unless
--overwrite. Unreadable files are reported and skipped; the exit status is
non-zero only if nothing could be processed.

--mask: complete inside a mask you give instead of the predicted one (white = occluded;
112x112 for aligned faces, the photo's size with --align): a file for one input, or a folder
holding <name>_mask.png per input -- e.g. the output folder of a first run, with the masks
corrected in an image editor. Needs a .keras checkpoint or the exported given-mask .tflite.

Videos (any container and codec FFmpeg reads: .mp4, .mov, .mkv, .webm, ...) are recognised by
their suffix, in a folder or a glob too: every frame's faces are found, followed, completed and
pasted back, stable from frame to frame (c2fdan_tf.video), into <name>_completed.<suffix> with the
input's frame timing, size and rotation and its audio and subtitle streams copied untouched.
--mask for a video: one mask image the frame's size for every frame, or a mask video (e.g. the
<name>_mask.<suffix> that --video_masks writes, corrected). The packaged int8 model is the fast
choice: --model=c2fdan_tf/pretrained/c2fdan_int8.tflite.
"""

import os
import sys
from pathlib import Path

from absl import app, flags

from c2fdan_tf import console
from c2fdan_tf.precision import PRECISIONS

_MODEL = flags.DEFINE_string("model", None, "Checkpoint (.keras), SavedModel folder, .tflite or .onnx (default: the "
                             "packaged pretrained model, c2fdan_tf/pretrained/c2fdan.keras).")
_INPUT = flags.DEFINE_string("input", None, "An image, a folder of images or a glob pattern.")
_OUTPUT = flags.DEFINE_string("output", None, "Output folder.")
_ALIGN = flags.DEFINE_bool("align", False, "Find and align every face of arbitrary photos (MTCNN).")
_MASK = flags.DEFINE_string("mask", None, "A corrected mask (white = occluded; 112x112, or the photo's size with "
                            "--align) for one input, or a folder of "
                            "<name>_mask.png per input; default: the predicted mask. Needs a .keras model or the "
                            "given-mask .tflite.")
_SIDE = flags.DEFINE_bool("side_by_side", False, "Also write input | mask | completed side by side.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace existing outputs.")
_PRECISION = flags.DEFINE_enum("precision", "auto", PRECISIONS,
                               "Compute precision of a .keras model (auto: bfloat16 with AMX or AVX512_BF16, else float32).")
_DETECT_EVERY = flags.DEFINE_integer("detect_every", 10, "Videos: run the face detector every this many frames "
                                     "(and at scene cuts); the faces are tracked in between.", lower_bound=1)
_STABILITY = flags.DEFINE_bool("stability", True, "Videos: landmark smoothing, mask fusion over neighbouring frames "
                               "and fill blending (--nostability: every frame on its own).")
_VIDEO_CODEC = flags.DEFINE_string("video_codec", None, "Videos: the encoder (default: the input's codec where FFmpeg "
                                   "can encode it, else libx264).")
_VIDEO_MASKS = flags.DEFINE_bool("video_masks", False, "Videos: also write <name>_mask.<suffix>, the pasted masks.")
console.define_verbose_flag()


def output_names(paths):
    """<stem> per input; the extension joins the stem when two inputs share one."""
    stems = [p.stem for p in paths]
    return [f"{p.stem}_{p.suffix.lstrip('.')}" if stems.count(p.stem) > 1 else p.stem for p in paths]


def save_png(array, path):
    import numpy as np
    from PIL import Image

    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)
    temporary = path.with_name(f".{path.name}.partial")
    Image.fromarray(array).save(temporary, format="PNG")
    os.replace(temporary, path)  # never a half-written PNG under the final name


def process_face(runner, path, targets, mask_path=None):
    import numpy as np

    from c2fdan_tf.inference import complete_faces
    from c2fdan_tf.data.image_files import read_face_image, read_mask_image

    face, resized = read_face_image(path)
    if resized:
        print(f"warning: {path} is not 112x112 and was resized; faces must be aligned to the template "
              "(use --align for ordinary photos).", file=sys.stderr)
    masks = None if mask_path is None else read_mask_image(mask_path)[None]
    [result] = complete_faces(runner, face[None], masks)
    save_png(result.completed, targets["completed"])
    save_png(result.mask, targets["mask"])
    if "side_by_side" in targets:
        mask_rgb = np.repeat(result.mask[..., None], 3, axis=-1)
        save_png(np.concatenate([face / 255.0, mask_rgb, result.completed], axis=1), targets["side_by_side"])
    if result.empty_mask:
        return f"{path}: no occlusion found; written unchanged"
    given = "" if mask_path is None else f" by {mask_path}"
    return f"{path}: completed ({np.mean(result.mask > 0.5):.1%} of the face masked{given})"


def mask_paths(spec, paths, names):
    """{input path: its mask file} for --mask (a file for one input, or a folder of
    <name>_mask.png, or <name>_mask.<suffix> for a video); an input without one maps to the
    path it was looked for at."""
    from c2fdan_tf.video import is_video_path

    spec = Path(spec)
    if spec.is_dir():
        found = {}
        for path, name in zip(paths, names):
            video_mask = spec / f"{name}_mask{path.suffix}"
            found[path] = video_mask if is_video_path(path) and video_mask.exists() else spec / f"{name}_mask.png"
        return found
    if not spec.exists():
        sys.exit(f"error: the mask {spec} does not exist.")
    if len(paths) != 1:
        sys.exit(f"error: --mask={spec} is one file for {len(paths)} inputs; give a folder of <name>_mask.png.")
    return {paths[0]: spec}


def list_inputs(spec):
    """Images and videos from a file, a folder (recursively) or a glob pattern, sorted."""
    from c2fdan_tf.data.image_files import list_image_files
    from c2fdan_tf.video import is_video_path

    path = Path(spec)
    images = list_image_files(spec)
    if path.is_dir():
        videos = [p for p in path.rglob("*") if p.is_file() and is_video_path(p)]
        return sorted(set(images) | set(videos))
    return images


def process_video(runner, path, targets, mask_path=None):
    from c2fdan_tf.video import VideoOptions, complete_video

    options = VideoOptions(detect_every=_DETECT_EVERY.value)
    if not _STABILITY.value:
        options = VideoOptions.per_frame(detect_every=_DETECT_EVERY.value)
    summary = complete_video(runner, path, targets["completed"], options, mask=mask_path, codec=_VIDEO_CODEC.value,
                             mask_target=targets.get("mask"), progress=True, log=print)
    for line in summary.warnings:
        print(line, file=sys.stderr)
    if summary.frames_with_faces == 0:
        print(f"warning: {path}: no face found in any frame; written unchanged", file=sys.stderr)
    return summary.line()


def process_photo(runner, path, targets, mask_path=None):
    import numpy as np

    from c2fdan_tf.inference import complete_photo
    from c2fdan_tf.data.image_files import read_mask_image, read_photo

    photo = read_photo(path)
    mask = None if mask_path is None else read_mask_image(mask_path, size=(photo.shape[1], photo.shape[0]))
    result = complete_photo(runner, photo, mask)
    if result is None:
        return None
    save_png(result.photo, targets["completed"])
    save_png(result.mask, targets["mask"])
    if "side_by_side" in targets:
        save_png(np.concatenate([photo, result.photo], axis=1), targets["side_by_side"])
    completed = sum(not face_result.empty_mask for _, face_result in result.faces)
    return f"{path}: {len(result.faces)} face(s), {completed} with an occlusion completed"


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    from c2fdan_tf.data.image_files import ImageReadError
    from c2fdan_tf.inference import ModelError, load_runner
    from c2fdan_tf.video import VideoError, is_video_path

    from c2fdan_tf.pretrained_model import PretrainedError, describe, pretrained_path, read_manifest

    model = _MODEL.value
    try:
        if model is None:
            model = str(pretrained_path("keras"))
            print(f"model: {describe(read_manifest())}: {model} (--model for another)")
        runner = load_runner(model, precision=_PRECISION.value)
    except (ModelError, PretrainedError) as error:
        sys.exit(f"error: {error}")
    if _MASK.value and not runner.takes_masks:
        sys.exit(f"error: --mask needs a .keras checkpoint or the exported given-mask .tflite; {model} "
                 "takes only the image.")
    if runner.needs_masks and not _MASK.value:
        sys.exit(f"error: {model} completes inside a given mask: pass --mask (or use the main model).")
    paths = list_inputs(_INPUT.value)
    if not paths:
        sys.exit(f"error: no input image or video matches {_INPUT.value}.")
    masks = mask_paths(_MASK.value, paths, output_names(paths)) if _MASK.value else {}
    out = Path(_OUTPUT.value)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        sys.exit(f"error: cannot create the output folder {out}: {error.strerror}.")
    processed, problems = 0, []
    for path, name in zip(paths, output_names(paths)):
        video = is_video_path(path)
        if video:
            targets = {"completed": out / f"{name}_completed{path.suffix}"}
            if _VIDEO_MASKS.value:
                targets["mask"] = out / f"{name}_mask{path.suffix}"
        else:
            targets = {"completed": out / f"{name}_completed.png", "mask": out / f"{name}_mask.png"}
        if _SIDE.value and not video:
            targets["side_by_side"] = out / f"{name}_side_by_side.png"
        existing = [str(t) for t in targets.values() if t.exists()]
        if existing and not _OVERWRITE.value:
            problems.append(f"{path}: {existing[0]} exists (use --overwrite)")
            continue
        if path in masks and not masks[path].is_file():
            problems.append(f"{path}: no mask {masks[path]}")
            continue
        try:
            if video:
                message = process_video(runner, path, targets, masks.get(path))
            elif _ALIGN.value:
                message = process_photo(runner, path, targets, masks.get(path))
            else:
                message = process_face(runner, path, targets, masks.get(path))
        except ImageReadError as error:
            problems.append(f"{error.path}: {error.reason}")
            continue
        except VideoError as error:
            problems.append(str(error))
            continue
        except KeyboardInterrupt:
            sys.exit(f"interrupted: {path} was not finished; nothing was written under {targets['completed'].name}.")
        if message is None:
            problems.append(f"{path}: no face found; nothing written")
            continue
        print(message)
        processed += 1
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"{processed} of {len(paths)} input(s) processed into {out}; {len(problems)} skipped.")
    if processed == 0:
        sys.exit(1)


def run():
    """Console-script entry point (c2fdan-complete)."""
    console.start(sys.argv)
    flags.mark_flags_as_required(["input", "output"])
    app.run(main)


if __name__ == "__main__":
    run()
