"""How many identities a training batch holds when the faces are stored in identity order
(a VGGFace2-style folder: identity after identity): the previous pipeline's 8,192-face shuffle
buffer against the global shuffle of `pipelines.face_order`. Labels only, no images.

    python benchmarks/batch_identities.py [--identities=8631 --images=362 --batch=8 --batches=2000]
"""

import argparse
import time

import numpy as np
import tensorflow as tf

from c2fdan_tf.data.pipelines import face_order


def describe(name, batches, seconds):
    distinct = np.array([len(np.unique(b)) for b in batches])
    spread = np.array([b.max() - b.min() for b in batches])
    covered = len(np.unique(np.concatenate(batches)))
    print(f"{name:<36} {distinct.mean():6.2f} of {len(batches[0])}   {np.median(spread):10.0f}   "
          f"{covered:8d}   {seconds:6.2f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--identities", type=int, default=8631)
    parser.add_argument("--images", type=int, default=362)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--buffer", type=int, default=8192)
    args = parser.parse_args()
    labels = np.repeat(np.arange(args.identities, dtype=np.int32), args.images)
    print(f"{len(labels):,} faces of {args.identities:,} identities in identity order; batch {args.batch}, "
          f"first {args.batches:,} batches")
    print(f"{'order':<36} {'identities/batch':>16}   {'median label span':>10}   {'ids seen':>8}   {'s':>6}")
    start = time.perf_counter()
    buffered = tf.data.Dataset.from_tensor_slices(labels).shuffle(args.buffer, seed=0).batch(args.batch)
    batches = [b.numpy() for b in buffered.take(args.batches)]
    describe(f"shuffle buffer of {args.buffer:,} (before)", batches, time.perf_counter() - start)
    start = time.perf_counter()
    table = tf.constant(labels)
    ordered = face_order(len(labels), seed=0).map(lambda i: tf.gather(table, i)).batch(args.batch)
    batches = [b.numpy() for b in ordered.take(args.batches)]
    describe("global shuffle, face_order (now)", batches, time.perf_counter() - start)
    start = time.perf_counter()
    resumed = face_order(len(labels), seed=0, start=len(labels) * 3 // 2).take(1)
    next(iter(resumed))
    print(f"first index of a run resumed half-way through epoch 2: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
