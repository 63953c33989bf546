"""Reading the user's face images: any common format to RGB 112x112 uint8.

Handles grayscale, palette, RGBA/LA (composited on white), 16-bit, CMYK, EXIF
rotation and animated files (first frame). Images that are not 112x112 are
centre-cropped to a square and resized, with one warning per folder that faces
must be aligned to the template. Unreadable files (corrupt, truncated, empty,
not an image, too large) raise `ImageReadError` naming the file and the problem,
so callers can skip and report them instead of crashing.
"""

import dataclasses
import glob
import logging
import os
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from c2fdan_tf.face_template import IMAGE_SIZE

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
# Refuse decoding above this many pixels (a 10k x 10k photo); JPEGs are decoded
# at reduced size first, so they rarely get near it.
MAX_PIXELS = 100_000_000

logger = logging.getLogger(__name__)
# Pillow's decompression-bomb warning is superseded by the MAX_PIXELS check below;
# a module-level filter, because images are decoded in tf.data worker threads.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageReadError(ValueError):
    """A file that cannot be used as a face image."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def _to_rgb(image):
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (or 32-bit integer) grey: scale the full 16-bit range to 8 bits.
        values = np.asarray(image, np.float64) / 257.0
        return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8)).convert("RGB")
    if mode == "F":
        values = np.asarray(image, np.float64)
        values = values * 255.0 if values.max() <= 1.0 else values
        return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8)).convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _read_rgb(path, draft_size=None):
    """The image as an RGB PIL image (EXIF rotation applied); raises ImageReadError.

    `draft_size`: JPEGs may be decoded at a reduced scale no smaller than this."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageReadError(path, "empty file (0 bytes)")
        with Image.open(path) as image:
            width, height = image.size
            if image.format == "JPEG" and draft_size:
                image.draft("RGB", (draft_size, draft_size))  # decode at reduced scale: fast, small
            elif width * height > MAX_PIXELS:
                raise ImageReadError(
                    path, f"image too large ({width}x{height} = {width * height / 1e6:.0f} MP, "
                    f"limit {MAX_PIXELS / 1e6:.0f} MP)")
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb(image)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image or unsupported format") from None
    except Image.DecompressionBombError as error:
        raise ImageReadError(path, f"image too large ({error})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(path, f"corrupt or truncated image ({error})") from None


def read_photo(path):
    """A whole photo as RGB uint8 (H, W, 3); raises ImageReadError."""
    return np.asarray(_read_rgb(path), np.uint8)


def read_face_image(path, size=IMAGE_SIZE):
    """Returns `(uint8 array (size, size, 3), resized)`; raises ImageReadError."""
    rgb = _read_rgb(path, draft_size=size)
    resized = rgb.size != (size, size)
    if resized:
        side = min(rgb.size)
        left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
        rgb = rgb.crop((left, top, left + side, top + side)).resize(
            (size, size), Image.Resampling.LANCZOS
        )
    return np.asarray(rgb, np.uint8), resized


def read_mask_image(path, size=IMAGE_SIZE):
    """A mask drawn over an aligned face (white = occluded, e.g. a corrected `<name>_mask.png`)
    as float32 (height, width) in [0, 1] (its grey level); raises ImageReadError.
    size: the side of the aligned face, or (width, height) of the photo the mask covers."""
    rgb = _read_rgb(path)
    width, height = (size, size) if isinstance(size, int) else size
    if rgb.size != (width, height):
        what = "the aligned face" if isinstance(size, int) else "the photo"
        raise ImageReadError(path, f"is {rgb.width}x{rgb.height}, a mask must be {width}x{height} like {what}")
    return np.asarray(rgb.convert("L"), np.float32) / 255.0


@dataclasses.dataclass
class FolderListing:
    """Image files of a folder with identity labels.

    layout "identity": one sub-folder per identity (VGGFace2 / CASIA), labels
    0..K-1 in sorted folder order. layout "flat": images directly in the folder
    (CelebA), label -1 (identity unknown).
    """

    root: Path
    layout: str
    paths: list
    labels: np.ndarray
    identities: list

    @property
    def num_identities(self):
        return len(self.identities)

    def __len__(self):
        return len(self.paths)


def _is_image_file(name):
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


def list_image_files(spec):
    """Image paths from a file, a folder (searched recursively) or a glob pattern, sorted."""
    path = Path(spec)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and _is_image_file(p.name))
    if path.exists():
        return [path]
    return sorted(Path(p) for p in glob.glob(str(spec), recursive=True) if Path(p).is_file())


# Sub-folder names that are a dataset's splits, not identities (VGGFace2's train/ and test/).
SPLIT_FOLDER_NAMES = frozenset({"train", "test", "val", "valid", "validation", "dev", "eval"})


def scan_image_folder(root):
    """Lists a folder of aligned faces; raises ValueError if missing or empty, or if its
    sub-folders are a dataset's splits (train/, test/) rather than identities."""
    root = Path(root)
    if not root.exists():
        raise ValueError(f"Data folder {root} does not exist.")
    if not root.is_dir():
        raise ValueError(f"Data path {root} is not a folder.")
    entries = sorted(os.scandir(root), key=lambda e: e.name)
    subdirs = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
    loose = [e for e in entries if e.is_file() and _is_image_file(e.name)]
    paths, labels, identities = [], [], []
    for subdir in subdirs:
        files = sorted(
            str(Path(dirpath) / name)
            for dirpath, _, names in os.walk(subdir.path)
            for name in names
            if _is_image_file(name)
        )
        if files:
            labels += [len(identities)] * len(files)
            identities.append(subdir.name)
            paths += files
    if identities and {name.lower() for name in identities} <= SPLIT_FOLDER_NAMES:
        raise ValueError(
            f"{root} holds the split folders {', '.join(n + '/' for n in identities)}, not one folder per identity: "
            f"point --data at one split, e.g. {Path(root) / identities[-1 if len(identities) > 1 else 0]}.")
    if identities:
        if loose:
            logger.warning(
                "%s: %d image files lie beside the identity folders and are ignored.", root, len(loose)
            )
        return FolderListing(root, "identity", paths, np.array(labels, np.int32), identities)
    if loose:
        paths = [e.path for e in loose]
        return FolderListing(root, "flat", paths, np.full(len(paths), -1, np.int32), [])
    raise ValueError(
        f"Data folder {root} contains no images ({', '.join(IMAGE_EXTENSIONS)}), "
        "neither directly nor in identity sub-folders."
    )


# A run stops when more than this share of a sampled folder is not 112x112 (unaligned
# photos, CelebA's 178x218 crops), unless it is told to go on (--allow_unaligned).
UNALIGNED_LIMIT = 0.05


def image_size(path):
    """(width, height) from the file's header, without decoding; None if unreadable."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, SyntaxError, ValueError):
        return None


def check_alignment(paths, where, allow_unaligned=False, sample=200, seed=0):
    """Reads the headers of a seeded sample of the image files `paths` (of the dataset
    `where`); warns with the count of those that are not 112x112 (they would be centre-cropped
    and resized, not aligned), and raises ValueError above `UNALIGNED_LIMIT` of the sample
    unless `allow_unaligned`. Returns the count and the sample size."""
    chosen = np.random.default_rng(seed).permutation(len(paths))[:sample]
    sizes = {paths[i]: image_size(paths[i]) for i in sorted(chosen)}
    other = {path: size for path, size in sizes.items() if size is not None and size != (IMAGE_SIZE, IMAGE_SIZE)}
    if other:
        path, (width, height) = next(iter(other.items()))
        what = (f"{len(other)} of {len(sizes)} sampled images in {where} are not {IMAGE_SIZE}x{IMAGE_SIZE} "
                f"(e.g. {path}: {width}x{height}): faces must be aligned to the template first "
                f"(python -m c2fdan_tf.commands.align)")
        if len(other) > UNALIGNED_LIMIT * len(sizes) and not allow_unaligned:
            raise ValueError(f"{what}; pass --allow_unaligned to centre-crop and resize them instead.")
        logger.warning("%s; they are centre-cropped and resized.", what)
    return len(other), len(sizes)


class ReadReport:
    """Thread-safe record of skipped files and resized images during reading."""

    def __init__(self):
        self._lock = threading.Lock()
        self.bad_files = {}  # path -> reason
        self.resized = 0

    def record_bad(self, error):
        with self._lock:
            first = error.path not in self.bad_files
            self.bad_files[error.path] = error.reason
        if first:
            logger.warning("Skipping unreadable image %s", error)

    def record_resized(self, path):
        with self._lock:
            self.resized += 1
            first = self.resized == 1
        if first:
            logger.warning(
                "%s is not %dx%d and was resized; faces must be aligned to the 112x112 "
                "template for C2FDAN (later resizes are counted, not logged).",
                path, IMAGE_SIZE, IMAGE_SIZE)

    def summary(self):
        lines = []
        if self.bad_files:
            lines.append(f"{len(self.bad_files)} unreadable file(s) skipped:")
            lines += [f"  {path}: {reason}" for path, reason in sorted(self.bad_files.items())]
        if self.resized:
            lines.append(f"{self.resized} image(s) were not {IMAGE_SIZE}x{IMAGE_SIZE} and were resized.")
        return "\n".join(lines)

    def read(self, path):
        """read_face_image that records instead of raising: (image or None)."""
        try:
            image, resized = read_face_image(path)
        except ImageReadError as error:
            self.record_bad(error)
            return None
        if resized:
            self.record_resized(path)
        return image
