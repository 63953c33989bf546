"""The trained model shipped in the package (issue 31), and its integrity check.

    c2fdan_tf/pretrained/
      manifest.json                   every file's SHA-256 and size; the command and commit that
                                      made it; renderer and occlusion versions; training time;
                                      benchmark figures (`release.py` writes it)
      c2fdan.keras                    the generator (c2fdan-complete's default model)
      c2fdan_int8.tflite              the phone app's and the edge runner's model
      c2fdan_fp16.tflite
      c2fdan_given_mask_fp32.tflite   the phone app's mask correction
      face_detector/                  MTCNN's nets as TFLite, for the phone app

Every use goes through `verify`: a file missing, changed or truncated is refused with one
line naming it. Nothing is downloaded.
"""

import json
import os
from pathlib import Path

from c2fdan_tf.models.checkpoints import file_sha256

# C2FDAN_PRETRAINED_DIR: another copy of the package folder (a read-only install's, a test's).
PRETRAINED_DIR = Path(os.environ.get("C2FDAN_PRETRAINED_DIR") or Path(__file__).resolve().parent / "pretrained")
MANIFEST = "manifest.json"
# What each use takes, by name.
FILES = {"keras": "c2fdan.keras", "tflite_int8": "c2fdan_int8.tflite", "tflite_fp16": "c2fdan_fp16.tflite",
         "given_mask": "c2fdan_given_mask_fp32.tflite", "face_detector": "face_detector"}


class PretrainedError(ValueError):
    """The packaged model is absent or does not match its manifest (one-line reason)."""


def read_manifest(folder=PRETRAINED_DIR):
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise PretrainedError(f"{path} does not exist: this copy has no packaged model (train one with "
                              "`python release.py`, or pass --model).")
    try:
        manifest = json.loads(path.read_text())
        manifest["files"].items()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise PretrainedError(f"{path} is not a pretrained-model manifest ({error}).") from None
    return manifest


def verify(folder=PRETRAINED_DIR, names=None):
    """The manifest, after checking the size and SHA-256 of every file it lists (or of those
    under `names`: file names or folder prefixes); PretrainedError naming the first that differs."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    for relative, expected in sorted(manifest["files"].items()):
        if names is not None and not any(relative == n or relative.startswith(f"{n}/") for n in names):
            continue
        path = folder / relative
        if not path.is_file():
            raise PretrainedError(f"{path} is missing from the packaged model (reinstall the package).")
        size = path.stat().st_size
        if size != expected["size_bytes"]:
            raise PretrainedError(f"{path} has {size} bytes, the manifest {expected['size_bytes']}: truncated or "
                                  "changed; reinstall the package.")
        if file_sha256(path) != expected["sha256"]:
            raise PretrainedError(f"{path} does not match its SHA-256 in {folder / MANIFEST}: changed or corrupt; "
                                  "reinstall the package.")
    return manifest


def pretrained_path(kind="keras", folder=PRETRAINED_DIR):
    """The verified path of the packaged file `kind` (a key of FILES)."""
    if kind not in FILES:
        raise PretrainedError(f"Unknown packaged file {kind!r}; choose from {', '.join(FILES)}.")
    verify(folder, [FILES[kind]])
    return Path(folder) / FILES[kind]


def describe(manifest):
    """One line: what the packaged model is."""
    model = manifest.get("model", {})
    training = manifest.get("training", {})
    minutes = training.get("wall_seconds", 0) / 60
    return (f"the packaged model (width {model.get('width', '?')}, {training.get('steps', '?')} steps, "
            f"{minutes:.0f} min on a 2-core CPU, synthetic faces only; commit {str(manifest.get('commit', '?'))[:10]})")


def write_manifest(folder, fields):
    """Writes FOLDER/manifest.json: `fields` plus "files" (every file under `folder`: SHA-256, size)."""
    folder = Path(folder)
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        files[str(path.relative_to(folder))] = {"sha256": file_sha256(path), "size_bytes": path.stat().st_size}
    manifest = {**fields, "files": files}
    temporary = folder / f".{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, indent=1) + "\n")
    temporary.replace(folder / MANIFEST)
    return manifest
