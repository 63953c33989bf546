"""Blind face completion on a Linux edge device with LiteRT only (no TensorFlow).

    python complete.py --model=c2fdan_int8.tflite --input=face.png --output=out/ [--threads=4]
    python complete.py --input=faces/ --output=out/     # in the repository: the packaged int8 model

Needs only `ai-edge-litert`, NumPy and Pillow (pip install ai-edge-litert numpy pillow).
Inputs are aligned 112x112 faces (others are centre-cropped and resized, with a
warning). For each image it writes <name>_completed.png and <name>_mask.png and
prints the inference latency.
"""

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

SIZE = 112
# The int8 model shipped in the package (c2fdan_tf/pretrained/), when this script runs from the repository.
PACKAGED_MODEL = Path(__file__).resolve().parents[2] / "c2fdan_tf" / "pretrained" / "c2fdan_int8.tflite"


def check_packaged(path):
    """None if `path` matches the SHA-256 its package manifest gives, else the one-line reason."""
    manifest = json.loads((path.parent / "manifest.json").read_text())
    expected = manifest["files"][path.name]["sha256"]
    if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
        return f"{path} does not match its SHA-256 in {path.parent / 'manifest.json'}: changed or truncated."
    return None
EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class EdgeCompleter:
    """Runs an exported C2FDAN .tflite (signature: image -> completed, mask, coarse)."""

    def __init__(self, model_path, threads=None):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
        signatures = self.interpreter.get_signature_list()
        if not signatures:
            raise ValueError(f"{model_path} has no signature; export it with export.py.")
        key = "serving_default" if "serving_default" in signatures else next(iter(signatures))
        names = signatures[key]
        if names["inputs"] != ["image"] or not {"completed", "mask"} <= set(names["outputs"]):
            raise ValueError(f"{model_path} is not a C2FDAN export (signature {names}).")
        self.runner = self.interpreter.get_signature_runner(key)

    def __call__(self, face):
        """face: uint8 or float (112, 112, 3); returns (completed, mask) float32 in [0, 1]."""
        image = np.asarray(face, np.float32)
        if np.asarray(face).dtype == np.uint8:
            image = image / 255.0
        outputs = self.runner(image=image[None])
        return outputs["completed"][0], outputs["mask"][0, ..., 0]


def read_face(path):
    """RGB uint8 (112, 112, 3) and whether it had to be resized."""
    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "P"):
            background = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, image.convert("RGBA"))
        rgb = image.convert("RGB")
    resized = rgb.size != (SIZE, SIZE)
    if resized:
        side = min(rgb.size)
        left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
        rgb = rgb.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    return np.asarray(rgb, np.uint8), resized


def to_png(array):
    return Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8))


def inputs_of(path):
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in EXTENSIONS)
    return [path]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="Exported .tflite (export.py); default: the packaged int8 "
                        "model (c2fdan_tf/pretrained/c2fdan_int8.tflite).")
    parser.add_argument("--input", required=True, help="An image or a folder of images.")
    parser.add_argument("--output", required=True, help="Output folder.")
    parser.add_argument("--threads", type=int, default=None, help="Interpreter threads (default: LiteRT's).")
    args = parser.parse_args(argv)
    if args.model is None:
        args.model = str(PACKAGED_MODEL)
        problem = check_packaged(PACKAGED_MODEL) if PACKAGED_MODEL.is_file() else None
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        print(f"model: the packaged int8 model {PACKAGED_MODEL}")
    if not Path(args.model).is_file():
        print(f"error: model {args.model} does not exist.", file=sys.stderr)
        return 2
    paths = inputs_of(args.input)
    if not paths or not paths[0].exists():
        print(f"error: no input image at {args.input}.", file=sys.stderr)
        return 2
    try:
        completer = EdgeCompleter(args.model, args.threads)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    latencies, failures = [], 0
    for path in paths:
        try:
            face, resized = read_face(path)
        except (OSError, UnidentifiedImageError, ValueError) as error:
            print(f"skipped {path}: not a readable image ({error})", file=sys.stderr)
            failures += 1
            continue
        if resized:
            print(f"warning: {path} is not 112x112 and was resized; faces must be aligned.", file=sys.stderr)
        start = time.perf_counter()
        completed, mask = completer(face)
        latencies.append((time.perf_counter() - start) * 1000)
        to_png(completed).save(output / f"{path.stem}_completed.png")
        to_png(mask).save(output / f"{path.stem}_mask.png")
        print(f"{path.name}: {latencies[-1]:.1f} ms, mask covers {np.mean(mask > 0.5):.1%}")
    if latencies:
        print(f"{len(latencies)} image(s), median latency {statistics.median(latencies):.1f} ms"
              + (f" ({args.threads} threads)" if args.threads else ""))
    return 0 if latencies else 1


if __name__ == "__main__":
    sys.exit(main())
