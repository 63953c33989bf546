"""Sources of clean aligned faces with identity labels, as tf.data datasets.

Every source yields elements `{"image": uint8 (112, 112, 3), "label": int32}` in
a deterministic order and can shard itself for `tf.distribute` input pipelines.
A source with `random_access` also reads the faces of a dataset of indices
(`elements(indices)`), which the training pipelines use for a global shuffle.

- `InMemoryFaces`: an array of faces (the built-in synthetic faces, cached on disk).
- `ImageFolderFaces`: a folder of images, identity sub-folders or flat; bad files
  are skipped and reported by name (see `image_files.ReadReport`).
- `TFRecordFaces`: shards written by `c2fdan_tf.data.tfrecords` for large datasets.

`open_face_source("synth" | PATH, ...)` picks one.
"""

import concurrent.futures
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from c2fdan_tf.data import face_renderers, image_files
from c2fdan_tf.data.image_files import ReadReport, scan_image_folder
from c2fdan_tf.data.insightface_formats import RecordFileFaces, find_record_pack
from c2fdan_tf.data.random_access import RandomAccessFaces
from c2fdan_tf.face_template import IMAGE_SIZE

logger = logging.getLogger(__name__)
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 3)


def _shard(dataset, input_context):
    if input_context is None or input_context.num_input_pipelines == 1:
        return dataset
    return dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)


class InMemoryFaces(RandomAccessFaces):
    """Faces held in memory: `images` uint8 (N, 112, 112, 3), `labels` int32 (N,)."""

    def __init__(self, images, labels, name="faces"):
        if images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE or images.dtype != np.uint8:
            raise ValueError(f"{name}: expected uint8 faces (N, 112, 112, 3), got {images.dtype} {images.shape}")
        self.images, self.labels, self.name = images, np.asarray(labels, np.int32), name

    def __len__(self):
        return len(self.images)

    @property
    def num_identities(self):
        return int(self.labels.max()) + 1 if len(self.labels) and self.labels.max() >= 0 else 0

    def elements(self, indices):
        images, labels = tf.constant(self.images), tf.constant(self.labels)
        return indices.map(lambda i: {"image": tf.gather(images, i), "label": tf.gather(labels, i)},
                           num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


class ImageFolderFaces(RandomAccessFaces):
    """A folder of face images, decoded in parallel; unreadable files are skipped. With
    `check_alignment`, a sample of the files' sizes is checked first (`image_files.check_alignment`:
    a warning with a count, an error when many are not 112x112 unless `allow_unaligned`)."""

    def __init__(self, root, check_alignment=False, allow_unaligned=False):
        self.listing = scan_image_folder(root)
        if check_alignment:
            image_files.check_alignment(self.listing.paths, self.listing.root, allow_unaligned)
        self.report = ReadReport()
        self.name = str(root)

    def __len__(self):
        return len(self.listing)

    @property
    def num_identities(self):
        return self.listing.num_identities

    @property
    def labels(self):
        return self.listing.labels

    def _read(self, path):
        image = self.report.read(path.decode())
        if image is None:
            return np.zeros(IMAGE_SHAPE, np.uint8), False
        return image, True

    def elements(self, indices):
        """The faces of `indices` (positions in the listing); unreadable files are left out."""
        paths, labels = tf.constant([str(p) for p in self.listing.paths]), tf.constant(self.listing.labels)

        def decode(index):
            # Pillow decodes every format and mode robustly; it releases the GIL.
            image, ok = tf.numpy_function(self._read, [tf.gather(paths, index)], [tf.uint8, tf.bool])
            image.set_shape(IMAGE_SHAPE)
            return {"image": image, "label": tf.gather(labels, index), "ok": ok}

        decoded = indices.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return decoded.filter(lambda e: e["ok"]).map(lambda e: {"image": e["image"], "label": e["label"]})

    def load(self):
        """All readable images in memory, as InMemoryFaces (for small folders)."""
        images, labels = [], []
        for path, label in zip(self.listing.paths, self.listing.labels):
            image = self.report.read(path)
            if image is not None:
                images.append(image)
                labels.append(label)
        if not images:
            raise ValueError(f"No readable image in {self.name}.\n{self.report.summary()}")
        return InMemoryFaces(np.stack(images), np.array(labels, np.int32), self.name)


TFRECORD_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
}


class TFRecordFaces:
    """Faces from TFRecord shards (`*.tfrecord`, PNG-encoded 112x112 RGB + label)."""

    def __init__(self, directory):
        directory = Path(directory)
        self.files = sorted(str(p) for p in directory.glob("*.tfrecord"))
        if not self.files:
            raise ValueError(f"No *.tfrecord shards in {directory}.")
        self.name = str(directory)
        index = directory / "index.json"
        self.index = json.loads(index.read_text()) if index.exists() else {}

    def __len__(self):
        return int(self.index.get("num_images", -1))

    @property
    def num_identities(self):
        return int(self.index.get("num_identities", 0))

    def dataset(self, input_context=None):
        files = tf.data.Dataset.from_tensor_slices(self.files)
        by_file = input_context is not None and len(self.files) >= input_context.num_input_pipelines
        if by_file:
            files = _shard(files, input_context)
        records = files.interleave(
            tf.data.TFRecordDataset, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
        if not by_file:
            records = _shard(records, input_context)

        def parse(record):
            example = tf.io.parse_single_example(record, TFRECORD_FEATURES)
            image = tf.io.decode_png(example["image"], channels=3)
            image.set_shape(IMAGE_SHAPE)
            return {"image": image, "label": tf.cast(example["label"], tf.int32)}

        return records.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


class HeldOutSplit:
    """Every `every`-th face of a source (validation=True) or all the others.

    With identities stored together, every identity keeps most of its images
    for training and lends a few to validation."""

    def __init__(self, source, every, validation):
        if every < 2:
            raise ValueError(f"holdout_every must be at least 2, got {every}.")
        self.source, self.every, self.validation = source, every, validation
        self.name = f"{source.name}[{'validation' if validation else 'train'}]"
        self.random_access = getattr(source, "random_access", False)

    def __len__(self):
        total = len(self.source)
        held_out = -(-total // self.every)
        return held_out if self.validation else total - held_out

    @property
    def num_identities(self):
        return self.source.num_identities

    def _kept(self):
        """The source positions of this split."""
        positions = np.arange(len(self.source), dtype=np.int64)
        return positions[(positions % self.every == 0) == self.validation]

    def elements(self, indices):
        kept = tf.constant(self._kept())
        return self.source.elements(indices.map(lambda i: tf.gather(kept, i)))

    def dataset(self, input_context=None):
        if self.random_access:
            return RandomAccessFaces.dataset(self, input_context)
        every, validation = self.every, self.validation
        data = self.source.dataset().enumerate()
        data = data.filter(lambda i, e: tf.equal(tf.math.floormod(i, every) == 0, validation))
        return _shard(data.map(lambda i, e: e), input_context)


# ---------------------------------------------------------------- synthetic faces


def default_cache_dir():
    return Path(os.environ.get("C2FDAN_CACHE", Path.home() / ".cache" / "c2fdan_tf"))


def _render_chunk(args):
    seed, identities, indices, faces = args
    return face_renderers.render_faces(seed, identities, indices, faces)


def render_synthetic_split(seed, split, num_identities, images_per_identity, workers=None, progress=False,
                           faces=face_renderers.DEFAULT_RENDERER):
    """Renders a split with renderer `faces`: (images uint8 (N, 112, 112, 3), labels int32 (N,)),
    N = ids x images."""
    face_renderers.renderer(faces)  # an unknown name fails here, naming the choices
    offset = face_renderers.SPLIT_OFFSETS[split]
    labels = np.repeat(np.arange(num_identities, dtype=np.int32), images_per_identity)
    identities = offset + labels.astype(np.int64)
    indices = np.tile(np.arange(images_per_identity), num_identities)
    chunks = [
        (seed, identities[i : i + 64].tolist(), indices[i : i + 64].tolist(), faces)
        for i in range(0, len(labels), 64)
    ]
    workers = workers or min(len(chunks), os.cpu_count() or 1)

    def collect(parts):
        if progress:
            from tqdm import tqdm

            from c2fdan_tf.console import bars_disabled

            parts = tqdm(parts, total=len(chunks), desc=f"rendering synthetic {split} faces", unit="batch",
                         disable=bars_disabled())
        return np.concatenate(list(parts)) if chunks else np.zeros((0,) + IMAGE_SHAPE, np.uint8)

    # Threads, not processes: the renderer's large NumPy ops release the GIL, and
    # no process is spawned (which would re-import the caller's main module).
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        images = collect(pool.map(_render_chunk, chunks))
    return images, labels


def synthetic_face_source(
    split="train", num_identities=500, images_per_identity=16, seed=0, cache_dir=None, progress=False,
    faces=face_renderers.DEFAULT_RENDERER,
):
    """The built-in synthetic faces of a split (renderer `faces`), rendered once and cached on disk."""
    version = face_renderers.renderer(faces).RENDERER_VERSION
    key = f"synth-{faces}-r{version}-s{seed}-{split}-{num_identities}x{images_per_identity}"
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache_dir / f"{key}.npz"
    if path.exists():
        try:
            with np.load(path) as cached:
                return InMemoryFaces(cached["images"], cached["labels"], name=f"synth:{split}")
        except (OSError, ValueError, KeyError) as error:
            logger.warning("Ignoring unreadable face cache %s (%s); rendering again.", path, error)
    images, labels = render_synthetic_split(
        seed, split, num_identities, images_per_identity, progress=progress, faces=faces
    )
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(temporary, "wb") as handle:
            np.savez(handle, images=images, labels=labels)
        os.replace(temporary, path)  # atomic: a crash never leaves a half-written cache
    except OSError as error:
        logger.warning("Could not cache synthetic faces in %s (%s).", cache_dir, error)
    return InMemoryFaces(images, labels, name=f"synth:{split}")


def open_face_source(data, split="train", allow_unaligned=None, **synthetic_options):
    """`"synth"` (built-in synthetic faces) or a path: insightface's `train.rec` (or its folder),
    a folder of TFRecord shards or a folder of images (identity sub-folders or flat). `allow_unaligned` (True/False)
    checks a folder's image sizes first (`ImageFolderFaces`); None skips the check."""
    if data == "synth":
        return synthetic_face_source(split=split, **synthetic_options)
    path = Path(data)
    if not path.exists():
        raise ValueError(f"Data path {path} does not exist (use --data=synth for the built-in faces).")
    if find_record_pack(path) is not None:
        return RecordFileFaces(path)  # insightface's train.rec + train.idx
    if path.is_dir() and any(path.glob("*.tfrecord")):
        return TFRecordFaces(path)
    return ImageFolderFaces(path, allow_unaligned is not None, bool(allow_unaligned))


def fingerprint(array):
    """SHA-256 of an array's bytes (for determinism checks and manifests)."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
