"""insightface's face data formats, read without MXNet.

- `RecordFileFaces`: a pre-aligned training pack, `train.rec` with its `train.idx` (and
  usually `property`: "<identities>,112,112"), as insightface distributes MS1M, Glint360K,
  CASIA or VGGFace2. MXNet's RecordIO: every record is `uint32 magic 0xced7230a`, `uint32
  lrecord` (bits 29-31: continuation flag, bits 0-28: length), the data, zero padding to 4
  bytes; a record whose data held the magic number is split there into parts (flag 1 first,
  2 middle, 3 last) and joined back with the magic between them. The data of an image record
  is an `IRHeader` (`uint32 flag, float32 label, uint64 id, uint64 id2`; when flag > 0,
  `flag` float32 labels follow and the first is the identity) and the encoded image. The
  `.idx` file maps a key to its record's byte offset ("key\\toffset" lines). In insightface's
  packs record 0 is a header whose labels are (first identity record, end): the image records
  are keys 1 .. first - 1.
- `read_verification_bin`: the `lfw.bin`, `cfp_fp.bin`, `agedb_30.bin` ... verification sets, a
  pickle of (list of encoded images, list of same-identity flags), pair i = images 2i, 2i+1.
  Unpickled with only the types those files hold allowed (a pickle can run code).
"""

import io
import os
import pickle
import logging
import struct
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from c2fdan_tf.data.random_access import RandomAccessFaces
from c2fdan_tf.face_template import IMAGE_SIZE

logger = logging.getLogger(__name__)
RECORD_MAGIC = 0xCED7230A
_HEADER = struct.Struct("<IfQQ")
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 3)


class RecordFormatError(ValueError):
    """A file that is not what its name says (one-line reason, naming the file)."""


def find_record_pack(path):
    """(train.rec, train.idx) for `path` = the .rec file or the folder holding it; None if it is neither."""
    path = Path(path)
    record = path if path.suffix == ".rec" else path / "train.rec"
    if not record.is_file():
        return None
    index = record.with_suffix(".idx")
    if not index.is_file():
        raise RecordFormatError(f"{record} has no index {index.name} beside it (insightface packs come as "
                                ".rec + .idx).")
    return record, index


class RecordFileFaces(RandomAccessFaces):
    """The faces of an insightface RecordIO pack (see the module docstring), read at random
    by offset: random access like the other face sources, so training shuffles it globally."""

    def __init__(self, path):
        found = find_record_pack(path)
        if found is None:
            raise RecordFormatError(f"{path} is neither a .rec file nor a folder with train.rec.")
        self.record_path, index_path = found
        self.name = str(self.record_path)
        offsets = {}
        try:
            for number, line in enumerate(index_path.read_text().splitlines(), 1):
                if line.strip():
                    key, offset = line.split("\t")
                    offsets[int(key)] = int(offset)
        except ValueError:
            raise RecordFormatError(f"{index_path} line {number}: not 'key<TAB>offset'.") from None
        self._offsets = offsets
        self._fd = os.open(self.record_path, os.O_RDONLY)
        self._size = os.fstat(self._fd).st_size
        flag, labels, _ = self._record(0) if 0 in offsets else (0, None, b"")
        if flag > 0 and len(labels) >= 2 and labels[0] > 1:  # insightface's header record
            self.keys = np.arange(1, int(labels[0]), dtype=np.int64)
            self._identity_records = (int(labels[0]), int(labels[1]))
        else:
            self.keys = np.array(sorted(k for k in offsets if k != 0 or flag == 0), np.int64)
            self._identity_records = None
        missing = np.setdiff1d(self.keys, np.fromiter(offsets, np.int64, len(offsets)))
        if len(missing):
            raise RecordFormatError(f"{index_path} has no offset for record {missing[0]} of the {len(self.keys)} "
                                    f"images {self.name} lists.")
        self._num_identities = self._read_identity_count()

    def __len__(self):
        return len(self.keys)

    def __del__(self):
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None

    def _read_identity_count(self):
        prop = self.record_path.parent / "property"
        if prop.is_file():
            try:
                return int(prop.read_text().split(",")[0])
            except ValueError:
                pass
        if self._identity_records is not None:
            return self._identity_records[1] - self._identity_records[0]
        return int(max(self.label(k) for k in self.keys)) + 1 if len(self.keys) else 0

    @property
    def num_identities(self):
        return self._num_identities

    def _read_at(self, offset, count):
        data = os.pread(self._fd, count, offset)
        if len(data) != count:
            raise RecordFormatError(f"{self.name}: truncated at byte {offset} (wanted {count} bytes).")
        return data

    def _payload(self, key):
        """The data of record `key`, its parts joined."""
        offset, parts = self._offsets[key], []
        while True:
            magic, word = struct.unpack("<II", self._read_at(offset, 8))
            if magic != RECORD_MAGIC:
                raise RecordFormatError(f"{self.name}: no record at byte {offset} (record {key}); the file or its "
                                        ".idx is damaged.")
            flag, length = word >> 29, word & ((1 << 29) - 1)
            parts.append(self._read_at(offset + 8, length))
            offset += 8 + length + (-length % 4)
            if flag in (0, 3):
                return struct.pack("<I", RECORD_MAGIC).join(parts)

    def _record(self, key):
        """(flag, labels (float32 array), encoded image bytes) of record `key`."""
        data = self._payload(key)
        if len(data) < _HEADER.size:
            raise RecordFormatError(f"{self.name}: record {key} is shorter than its header.")
        flag, label, _, _ = _HEADER.unpack_from(data)
        start = _HEADER.size
        if flag > 0:
            labels = np.frombuffer(data, np.float32, flag, start)
            start += 4 * flag
        else:
            labels = np.array([label], np.float32)
        return flag, labels, data[start:]

    def label(self, key):
        return int(self._record(int(key))[1][0])

    def _read(self, position):
        """(uint8 face, label, ok) of the image at `position` (an index into `keys`)."""
        key = int(self.keys[int(position)])
        try:
            _, labels, encoded = self._record(key)
            with Image.open(io.BytesIO(encoded)) as image:
                face = np.asarray(image.convert("RGB"))
        except (OSError, ValueError, SyntaxError) as error:
            logger.warning("Skipping unreadable record %d of %s (%s)", key, self.name, error)
            return np.zeros(IMAGE_SHAPE, np.uint8), np.int32(-1), False
        if face.shape != IMAGE_SHAPE:
            face = np.asarray(Image.fromarray(face).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC))
        return face, np.int32(labels[0]), True

    def elements(self, indices):
        def read(position):
            face, label, ok = tf.numpy_function(self._read, [position], [tf.uint8, tf.int32, tf.bool])
            face.set_shape(IMAGE_SHAPE)
            label.set_shape(())
            return {"image": face, "label": label, "ok": ok}

        decoded = indices.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return decoded.filter(lambda e: e["ok"]).map(lambda e: {"image": e["image"], "label": e["label"]})


class _VerificationUnpickler(pickle.Unpickler):
    """Only what insightface's .bin files hold: lists, bytes, bools and NumPy arrays."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "bytearray"), ("__builtin__", "bytearray"),
               ("_codecs", "encode")}  # protocol 2 writes Python 3 bytes as _codecs.encode(text, "latin1")

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it asks for {module}.{name}, which a verification set never holds")


def read_verification_bin(path):
    """(uint8 images (2P, 112, 112, 3), same (P,) bool) of an insightface verification set."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            bins, same = _VerificationUnpickler(handle, encoding="bytes").load()
    except FileNotFoundError:
        raise RecordFormatError(f"{path} does not exist.") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as error:
        raise RecordFormatError(f"{path} is not an insightface verification set: {error}.") from None
    same = np.asarray(same, bool)
    if len(bins) != 2 * len(same) or not len(same):
        raise RecordFormatError(f"{path}: {len(bins)} images for {len(same)} pairs (want two per pair).")
    images = []
    for number, encoded in enumerate(bins):
        try:
            raw = encoded.tobytes() if isinstance(encoded, np.ndarray) else bytes(encoded)
            with Image.open(io.BytesIO(raw)) as image:
                face = image.convert("RGB")
                if face.size != (IMAGE_SIZE, IMAGE_SIZE):
                    face = face.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
                images.append(np.asarray(face))
        except (OSError, ValueError, SyntaxError) as error:
            raise RecordFormatError(f"{path}: image {number} cannot be decoded ({error}).") from None
    return np.stack(images), same
