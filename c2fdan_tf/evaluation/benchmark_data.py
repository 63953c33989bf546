"""Benchmark data for evaluation: a gallery, its occluded versions, distractors, pairs.

Sources:
- the built-in synthetic faces: held-out identities form the gallery, the
  distractor split the distractors, and verification pairs are drawn from the
  gallery identities; occlusions come from the benchmark synthesis;
- a folder of aligned faces with identity sub-folders: the first identities
  form the gallery, one image of each remaining identity is a distractor;
- the occluded MegaFace FaceScrub set published by the paper's authors
  (`<form>/<position>/<size>/img|mask/<identity>/<file>`, forms `square` and
  `text`), with the clean FaceScrub faces and a folder of distractors;
- LFW: `pairs.txt` and the aligned image folders (`<name>/<name>_<nnnn>.<ext>`).
"""

import dataclasses
import json
import logging
import re
from pathlib import Path

import numpy as np
from PIL import Image

from c2fdan_tf.data.face_sources import InMemoryFaces, synthetic_face_source
from c2fdan_tf.data import face_renderers
from c2fdan_tf.data.face_renderers import DEFAULT_RENDERER, SPLIT_OFFSETS
from c2fdan_tf.data.image_files import (ImageReadError, ReadReport, check_alignment, list_image_files,
                                        read_face_image, scan_image_folder)
from c2fdan_tf.data.benchmark_occlusions import Condition, benchmark_conditions, occlude_benchmark
from c2fdan_tf.evaluation.distractor_cache import list_digest

logger = logging.getLogger(__name__)
PAIR_ID_OFFSET = 10_000_000  # occlusion ids of verification images, apart from the gallery's


@dataclasses.dataclass
class OccludedGallery:
    """The gallery under one occlusion condition: images aligned with the gallery. Images read
    from files (the occluded MegaFace set) are kept as uint8, a quarter of float32's memory
    (17 -> 4.3 GB for 3,530 FaceScrub images x 24 conditions); `as_float()` converts one
    condition when it is measured."""

    condition: Condition
    occluded: np.ndarray  # float32 (N, 112, 112, 3) in [0, 1], or uint8
    mask: np.ndarray  # float32 (N, 112, 112, 1) in {0, 1}, or uint8 (1 = occluded)
    index: np.ndarray  # (N,) indices into the gallery

    def as_float(self):
        """This condition with float32 images in [0, 1] and a float32 mask (itself if it has them)."""
        if self.occluded.dtype == np.float32 and self.mask.dtype == np.float32:
            return self
        images = self.occluded.astype(np.float32) / 255.0 if self.occluded.dtype == np.uint8 else self.occluded
        return OccludedGallery(self.condition, images.astype(np.float32), self.mask.astype(np.float32), self.index)


@dataclasses.dataclass
class VerificationPairs:
    images: np.ndarray  # uint8 (M, 112, 112, 3)
    first: np.ndarray  # (P,) indices into images
    second: np.ndarray
    same: np.ndarray  # (P,) bool
    fold: np.ndarray  # (P,) fold of each pair (10 folds)
    # (P,) bool: a pair with a missing image (alignment failed); it counts as wrong, as the
    # MegaFace devkit counts a face its aligner missed. None: every image is there.
    failed: np.ndarray = None

    def scored(self, similarities):
        """The pairs' similarities with every failed pair set to the wrong side of any threshold."""
        if self.failed is None or not self.failed.any():
            return similarities
        return np.where(self.failed, np.where(self.same, -2.0, 2.0), similarities)


@dataclasses.dataclass
class Benchmark:
    name: str
    gallery: np.ndarray  # uint8 (N, 112, 112, 3), clean
    labels: np.ndarray  # (N,)
    occluded: list  # [OccludedGallery], one per condition
    distractor_count: int
    distractor_chunks: object  # callable(chunk_size) -> iterator of uint8 (n, 112, 112, 3)
    pairs: VerificationPairs = None
    occlusion_seed: int = 0  # also occludes the verification pairs
    # (N, 5, 2) (x, y) where the synthetic renderer drew the gallery faces' five template points
    known_landmarks: np.ndarray = None
    # What the distractor images are (a folder's file names and sizes, the synthetic set's
    # parameters): with the recognizer's weights, the key of their cached embeddings (None: no cache).
    distractor_digest: str = None

    def describe(self):
        return {
            "name": self.name,
            "gallery_images": int(len(self.gallery)),
            "gallery_identities": int(len(np.unique(self.labels))),
            "conditions": [o.condition.name for o in self.occluded],
            "distractors_available": int(self.distractor_count),
            "verification_pairs": int(len(self.pairs.same)) if self.pairs is not None else 0,
        }


# ---------------------------------------------------------------- synthesis


def synthesize_conditions(images, seed, conditions, id_offset=0):
    """Every image under each condition (the benchmark's occlusions, `occlude_benchmark`);
    `id_offset` keys a second set of images (the verification pairs) apart from the gallery."""
    image_ids = id_offset + np.arange(len(images))
    occluded = []
    for condition in conditions:
        example = occlude_benchmark(images, seed, condition, image_ids)
        occluded.append(OccludedGallery(condition, example["occluded"], example["mask"], np.arange(len(images))))
    return occluded


def _pairs_from_labels(images, labels, num_pairs, seed):
    from c2fdan_tf.evaluation.recognition import balanced_pairs

    first, second, same = balanced_pairs(labels, num_pairs, seed)
    fold = np.arange(len(same)) * 10 // max(len(same), 1)
    return VerificationPairs(images, first, second, same, fold)


def synthetic_benchmark(seed=0, gallery_identities=40, images_per_identity=6, distractors=2000,
                        verification_pairs=600, conditions=None, occlusion_seed=0, faces=DEFAULT_RENDERER):
    """The paper's protocols built from held-out synthetic identities (renderer `faces`)."""
    gallery = synthetic_face_source("eval", gallery_identities, images_per_identity, seed=seed, progress=True,
                                    faces=faces)
    distractor_faces = (synthetic_face_source("distractor", distractors, 1, seed=seed, progress=True, faces=faces)
                        if distractors else InMemoryFaces(np.zeros((0, 112, 112, 3), np.uint8), np.zeros(0, np.int32)))
    conditions = conditions or benchmark_conditions()

    def chunks(size):
        for start in range(0, len(distractor_faces), size):
            yield distractor_faces.images[start : start + size]

    pairs = _pairs_from_labels(gallery.images, gallery.labels, verification_pairs, seed) if verification_pairs else None
    identities = SPLIT_OFFSETS["eval"] + np.repeat(np.arange(gallery_identities), images_per_identity)
    indices = np.tile(np.arange(images_per_identity), gallery_identities)
    return Benchmark(
        f"synthetic ({faces})", gallery.images, gallery.labels,
        synthesize_conditions(gallery.images, occlusion_seed, conditions),
        len(distractor_faces), chunks, pairs, occlusion_seed,
        face_renderers.known_landmarks(seed, identities, indices, faces),
        distractor_digest=f"synthetic-{faces}-r{face_renderers.renderer(faces).RENDERER_VERSION}-seed{seed}-{distractors}",
    )


def folder_benchmark(root, gallery_identities=80, verification_pairs=600, conditions=None, occlusion_seed=0,
                     seed=0, distractors_dir=None, distractor_list=None, distractor_noises=None,
                     allow_unaligned=False):
    """Protocols built from a folder with identity sub-folders."""
    listing = scan_image_folder(root)
    if listing.layout != "identity":
        raise ValueError(f"{root}: evaluation needs identity sub-folders (one per person).")
    check_alignment(listing.paths, root, allow_unaligned)
    report = ReadReport()  # unreadable and resized images are named in warnings
    images, labels, spare = [], [], []
    for path, label in zip(listing.paths, listing.labels):
        image = report.read(path)
        if image is None:
            continue
        if label < gallery_identities:
            images.append(image)
            labels.append(label)
        elif not spare or spare[-1][0] != label:
            spare.append((label, image))
    if not images:
        raise ValueError(f"{root}: no readable gallery image.")
    gallery, labels = np.stack(images), np.array(labels)
    distractor_source = (_distractor_folder(distractors_dir, distractor_list, distractor_noises) if distractors_dir
                         else None)
    if distractor_source is None:
        spare_images = np.stack([image for _, image in spare]) if spare else np.zeros((0, 112, 112, 3), np.uint8)

        def chunks(size):
            for start in range(0, len(spare_images), size):
                yield spare_images[start : start + size]

        count, digest = len(spare_images), None
    else:
        chunks, count, digest = distractor_source
    conditions = conditions or benchmark_conditions()
    pairs = _pairs_from_labels(gallery, labels, verification_pairs, seed) if verification_pairs else None
    return Benchmark(str(root), gallery, labels, synthesize_conditions(gallery, occlusion_seed, conditions),
                     count, chunks, pairs, occlusion_seed, distractor_digest=digest)


# ---------------------------------------------------------------- public layouts


def _read_all(paths):
    images = []
    for path in paths:
        try:
            images.append(read_face_image(path)[0])
        except ImageReadError as error:
            raise ValueError(f"Unreadable benchmark image {error}") from None
    return np.stack(images) if images else np.zeros((0, 112, 112, 3), np.uint8)


def read_path_list(path):
    """Relative image paths from a list file: the MegaFace devkit's JSON distractor lists
    (`megaface_features_list.json_<D>_1`: {"path": [...]}) or text with one path a line (the
    noise lists: '#' comments, a path or `<name>\t<path>` per line)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ValueError(f"Cannot read the list {path}: {error.strerror or error}.") from None
    if text.lstrip().startswith("{"):
        try:
            return [str(p) for p in json.loads(text)["path"]]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path} is not a MegaFace devkit list (a JSON object with a \"path\" list).") from None
    lines = (line.strip() for line in text.splitlines())
    return [line.split("\t")[-1] for line in lines if line and not line.startswith("#")]


def _distractor_folder(folder, distractor_list=None, noises=None):
    """(chunks(size), count, digest) of a folder of distractor faces: every image in it, or the
    images a devkit list names (`distractor_list`, e.g. the 10 ... 1 M subsets), in its order,
    less those of the noise list (`noises`, insightface's megaface_noises.txt)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"Distractor folder {folder} does not exist.")
    if distractor_list:
        paths = [folder / p for p in read_path_list(distractor_list)]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise ValueError(f"{len(missing)} of the {len(paths)} distractors in {distractor_list} are not in "
                             f"{folder} (e.g. {missing[0]}).")
    else:
        paths = list_image_files(folder)
    if noises:
        noisy = {Path(p).as_posix() for p in read_path_list(noises)}
        kept = [p for p in paths if Path(p).relative_to(folder).as_posix() not in noisy]
        logger.warning("%d of %d distractors are on the noise list %s and left out.", len(paths) - len(kept),
                    len(paths), noises)
        paths = kept
    if not paths:
        raise ValueError(f"Distractor folder {folder} contains no images.")

    def chunks(size):
        for start in range(0, len(paths), size):
            batch = []
            for path in paths[start : start + size]:
                try:
                    batch.append(read_face_image(path)[0])
                except ImageReadError:
                    continue  # a broken distractor is left out, not fatal
            if batch:
                yield np.stack(batch)

    return chunks, len(paths), f"folder-{list_digest(folder, paths)}"


_FORM_NAMES = {"square": "rectangle", "rectangle": "rectangle", "text": "text"}


def _parse_size(name):
    number = re.sub(r"[^0-9.]", "", name)
    if not number:
        raise ValueError(f"Cannot read an occlusion size from the folder name {name!r}.")
    value = float(number)
    return value / 100.0 if value > 1.0 else value


def megaface_occluded_benchmark(occluded_root, clean_root, distractors_dir, max_distractors=None,
                                distractor_list=None, distractor_noises=None):
    """The authors' occluded FaceScrub set (`<form>/<position>/<size>/img|mask/<id>/<file>`)."""
    occluded_root, clean_root = Path(occluded_root), Path(clean_root)
    for path, what in ((occluded_root, "occluded MegaFace folder"), (clean_root, "clean FaceScrub folder")):
        if not path.is_dir():
            raise ValueError(f"The {what} {path} does not exist.")
    condition_dirs = []
    for form_dir in sorted(p for p in occluded_root.iterdir() if p.is_dir()):
        if form_dir.name not in _FORM_NAMES:
            continue
        for position_dir in sorted(p for p in form_dir.iterdir() if p.is_dir()):
            for size_dir in sorted(p for p in position_dir.iterdir() if p.is_dir()):
                if not (size_dir / "img").is_dir():
                    raise ValueError(f"{size_dir} has no img/ folder.")
                if not (size_dir / "mask").is_dir():
                    raise ValueError(f"{size_dir} has img/ but no mask/ folder: the masks are missing.")
                condition_dirs.append((form_dir.name, position_dir.name, size_dir))
    if not condition_dirs:
        raise ValueError(f"{occluded_root} has no <square|text>/<position>/<size>/img folders.")
    clean = scan_image_folder(clean_root)
    keys = [str(Path(p).relative_to(clean_root)) for p in clean.paths]
    key_index = {Path(k).with_suffix("").as_posix(): i for i, k in enumerate(keys)}
    gallery = _read_all(clean.paths)
    occluded = []
    for form, position, size_dir in condition_dirs:
        files = list_image_files(size_dir / "img")
        rows, images, masks = [], [], []
        for path in files:
            relative = Path(path).relative_to(size_dir / "img")
            index = key_index.get(relative.with_suffix("").as_posix())
            if index is None:
                continue  # no clean counterpart: cannot be scored
            mask_path = _matching_file(size_dir / "mask" / relative.parent, relative.stem)
            if mask_path is None:
                raise ValueError(f"No mask for {path} in {size_dir / 'mask'}.")
            rows.append(index)
            images.append(read_face_image(path)[0])
            masks.append(_read_mask(mask_path))
        if rows:
            condition = Condition(_FORM_NAMES[form], _parse_size(size_dir.name), position)
            occluded.append(OccludedGallery(condition, np.stack(images), np.stack(masks), np.array(rows)))
    if not occluded:  # a wrong --megaface_clean matches nothing: an empty report otherwise
        raise ValueError(f"No occluded image under {occluded_root} has a clean counterpart in {clean_root} "
                         "(matched by <identity>/<file name> without extension): check --megaface_clean.")
    chunks, count, digest = _distractor_folder(distractors_dir, distractor_list, distractor_noises)
    if max_distractors:
        count = min(count, max_distractors)
    return Benchmark(f"megaface:{occluded_root} (clean: {clean_root}, distractors: {distractors_dir})", gallery,
                     clean.labels, occluded, count, chunks, distractor_digest=digest)


def _matching_file(folder, stem):
    if not folder.is_dir():
        return None
    for candidate in sorted(folder.iterdir()):
        if candidate.stem == stem:
            return candidate
    return None


def _read_mask(path):
    with Image.open(path) as image:
        mask = np.asarray(image.convert("L").resize((112, 112), Image.Resampling.NEAREST))
    return (mask > 127).astype(np.uint8)[..., None]


def verification_bin_pairs(path):
    """The pairs of an insightface verification set (`lfw.bin`, `cfp_fp.bin`, `agedb_30.bin`):
    images 2i and 2i + 1 form pair i; ten folds of consecutive pairs, as insightface scores them."""
    from c2fdan_tf.data.insightface_formats import read_verification_bin

    images, same = read_verification_bin(path)
    count = len(same)
    return VerificationPairs(images, np.arange(0, 2 * count, 2), np.arange(1, 2 * count, 2), same,
                             np.arange(count) * 10 // count)


def lfw_pairs(root, pairs_file, allow_unaligned=False):
    """LFW pairs.txt (header "folds pairs-per-half", then same / different lines). Raw LFW
    (250x250, unaligned) is refused unless `allow_unaligned` (`image_files.check_alignment`)."""
    root, pairs_file = Path(root), Path(pairs_file)
    if not pairs_file.exists():
        raise ValueError(f"LFW pairs file {pairs_file} does not exist.")
    lines = [line.split() for line in pairs_file.read_text().splitlines() if line.strip()]
    header, lines = lines[0], lines[1:]
    folds, per_half = (int(header[0]), int(header[1])) if len(header) == 2 else (10, len(lines) // 20)
    paths, index, missing = [], {}, []

    def image(name, number):
        stem = f"{name}_{int(number):04d}"
        path = _matching_file(root / name, stem)
        if path is None:
            missing.append(root / name / stem)
            return -1
        if path not in index:
            index[path] = len(paths)
            paths.append(path)
        return index[path]

    first, second, same = [], [], []
    for line in lines:
        if len(line) == 3:
            first.append(image(line[0], line[1]))
            second.append(image(line[0], line[2]))
            same.append(True)
        elif len(line) == 4:
            first.append(image(line[0], line[1]))
            second.append(image(line[2], line[3]))
            same.append(False)
        else:
            raise ValueError(f"{pairs_file}: cannot read the pair line {' '.join(line)!r}.")
    fold = np.arange(len(same)) // max(1, 2 * per_half)
    fold = np.minimum(fold, folds - 1)
    first, second = np.array(first), np.array(second)
    failed = (first < 0) | (second < 0)
    if not paths:
        raise ValueError(f"None of the images of {pairs_file} is in {root}.")
    check_alignment(paths, root, allow_unaligned)
    if missing:
        logger.warning("%d LFW image(s) are missing from %s (e.g. %s.*, not aligned?): their %d pair(s) count as "
                       "failures.", len(set(missing)), root, missing[0], int(failed.sum()))
    return VerificationPairs(_read_all(paths), np.maximum(first, 0), np.maximum(second, 0), np.array(same), fold,
                             failed)

