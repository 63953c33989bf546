"""Converts a folder of face images into sharded TFRecords (for large datasets).

Command line: `python -m c2fdan_tf.commands.tfrecords --input=FACES_DIR --output=RECORDS_DIR --shards=64`.

Each record holds a PNG-encoded 112x112 RGB face and its identity label. The files are
written in a seeded random order (not the folder's identity order), so every shard mixes all
identities and a reader's shuffle buffer gives batches drawn from the whole set. Images
are read (any format, resized if needed) by `image_files`, unreadable ones are
skipped and listed in `index.json` with the counts. Shards are written under a
temporary name and renamed when complete. Read them back with
`face_sources.TFRecordFaces` (or `--data=RECORDS_DIR` in the binaries).
"""

import concurrent.futures
import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from c2fdan_tf.data.image_files import ReadReport, scan_image_folder


def _png_bytes(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _example(png, label):
    import tensorflow as tf

    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
            }
        )
    ).SerializeToString()


def write_tfrecords(input_dir, output_dir, num_shards=16, workers=None, progress=False, seed=0):
    """Writes shards named like `faces-00003-of-00064.tfrecord` and `index.json`; returns the index."""
    import tensorflow as tf

    listing = scan_image_folder(input_dir)
    order = np.random.default_rng(seed).permutation(len(listing))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    num_shards = max(1, min(num_shards, len(listing)))
    names = [f"faces-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]
    temporaries = [output_dir / f".{name}.tmp" for name in names]
    report = ReadReport()

    def encode(path):
        image = report.read(path)
        return None if image is None else _png_bytes(image)

    writers = [tf.io.TFRecordWriter(str(t)) for t in temporaries]
    written = 0
    try:
        with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
            encoded = pool.map(encode, [listing.paths[i] for i in order])
            if progress:
                from tqdm import tqdm

                from c2fdan_tf.console import bars_disabled

                encoded = tqdm(encoded, total=len(listing), desc="writing TFRecords", unit="image",
                               disable=bars_disabled())
            for png, label in zip(encoded, listing.labels[order]):
                if png is not None:
                    writers[written % num_shards].write(_example(png, label))
                    written += 1
    finally:
        for writer in writers:
            writer.close()
    for temporary, name in zip(temporaries, names):
        os.replace(temporary, output_dir / name)
    index = {
        "source": str(Path(input_dir).resolve()),
        "layout": listing.layout,
        "num_images": written,
        "num_identities": listing.num_identities,
        "identities": listing.identities,
        "shards": names,
        "order_seed": seed,
        "bad_files": report.bad_files,
        "resized": report.resized,
    }
    (output_dir / "index.json").write_text(json.dumps(index, indent=1))
    return index
