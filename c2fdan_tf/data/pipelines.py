"""tf.data pipelines: occluded training batches and the deterministic benchmark.

Elements are dicts of batched tensors:
    occluded (B, 112, 112, 3) float32 in [0, 1]   the network's input I
    mask (B, 112, 112, 1) float32 in {0, 1}        M_gt, 1 = occluded
    ground_truth (B, 112, 112, 3) float32          I_gt
    label (B,) int32                               identity (-1 if unknown)
    form, size, position                           occlusion metadata (the paper's
                                                   occluders alone add color and word;
                                                   form >= 2: a wild family, `families`)
The benchmark adds image_index and condition (index into `benchmark_conditions()`).
"""

import tensorflow as tf

from c2fdan_tf.data import counter_random
from c2fdan_tf.data.benchmark_occlusions import benchmark_conditions, benchmark_parameters

METADATA_KEYS = ("form", "size", "position", "color", "word")
OCCLUSION_GROUP = 64  # training images occluded together (a multiple of the batch size at least this)


def _example(synthesizer, faces, labels, params):
    example = synthesizer.occlude(faces, params)
    example["label"] = labels
    example.update({key: params[key] for key in METADATA_KEYS})
    return example


def face_order(size, seed, start=0, repeat=True, reshuffle=True):
    """Indices into a source of `size` faces, epoch after epoch: each epoch a permutation of
    range(size) drawn from (seed, epoch) (the same one every epoch with `reshuffle=False`),
    starting at element `start` of that stream. A global shuffle: every batch draws from the
    whole set (not from a band of neighbouring identities, as a shuffle buffer over a list in
    identity order does), and element k is known without reading the k before it, so a
    resumed run continues exactly where it stopped."""
    if size <= 0:
        raise ValueError("face_order needs a source with a known, positive size.")
    first_epoch, offset = divmod(int(start), int(size))
    last_epoch = first_epoch + 1 if not repeat else 2**62

    def epoch_indices(epoch):
        indices = tf.random.experimental.stateless_shuffle(
            tf.range(size, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch if reshuffle else 0]))
        return tf.data.Dataset.from_tensor_slices(indices[tf.where(epoch == first_epoch, offset, 0):])

    return tf.data.Dataset.range(first_epoch, last_epoch).flat_map(epoch_indices)


def shuffled_faces(source, seed, start=0, shuffle_buffer=8192, repeat=True, reshuffle=True, input_context=None):
    """The faces of `source` in training order, from element `start` of this pipeline's stream.

    A random-access source (`source.random_access`: in memory, image folders, insightface
    packs) is read in `face_order`; a sequential one (TFRecord shards) through a shuffle
    buffer of `shuffle_buffer` faces, reseeded by `start` on resume (no replay of what was
    read, but not the same faces as an uninterrupted run). `shuffle_buffer=0` keeps the
    source's order. Under `tf.distribute`, pipeline p of P takes elements p, p + P, ...
    of the one global stream."""
    pipeline = 0 if input_context is None else input_context.input_pipeline_id
    pipelines = 1 if input_context is None else input_context.num_input_pipelines
    if shuffle_buffer and getattr(source, "random_access", False):
        order = face_order(len(source), seed, start * pipelines, repeat, reshuffle)
        if pipelines > 1:
            order = order.shard(pipelines, pipeline)
        return source.elements(order)
    faces = source.dataset(input_context)
    if shuffle_buffer:
        faces = faces.shuffle(shuffle_buffer, seed=seed + pipeline + start, reshuffle_each_iteration=reshuffle)
    if repeat:
        faces = faces.repeat()
    return faces.skip(start) if start and not shuffle_buffer else faces


def training_dataset(
    source,
    synthesizer,  # the paper's `OcclusionSynthesizer` or a mix (`families.training_occluders`)
    batch_size,
    seed=0,
    shuffle_buffer=8192,
    input_context=None,
    repeat=True,
    start_batch=0,
    reshuffle=True,
):
    """Shuffled, occluded, flipped training batches, forever (or one pass).

    Occlusions depend on (seed, element number): a fresh occlusion for every
    image in every epoch, reproducible, and independent of parallelism. A run
    resumed at batch `start_batch` continues the element numbering and the face
    order (`shuffled_faces`) instead of replaying the first epoch. `shuffle_buffer=0` keeps
    the source order; `reshuffle=False` shuffles once, identically on every
    pass (fixed validation sets that still mix identities). Under `tf.distribute`, pass the
    `input_context` of `distribute_datasets_from_function` and the per-replica
    batch size; each pipeline reads its own shard.
    """
    pipeline = 0 if input_context is None else input_context.input_pipeline_id
    pipelines = 1 if input_context is None else input_context.num_input_pipelines
    start = start_batch * batch_size
    faces = shuffled_faces(source, seed, start, shuffle_buffer, repeat, reshuffle, input_context)
    # Occluded a group of whole batches at a time: the same occlusions (they depend on the element
    # number only), but a mix of families pays each family's per-op overhead once per group, not
    # once per small batch (the small preset's mix at batch 8: 13.1 -> 4.9 ms of pipeline per batch).
    group = batch_size * max(1, -(-OCCLUSION_GROUP // batch_size))
    groups = tf.data.Dataset.zip((tf.data.Dataset.counter(), faces.batch(group)))

    def occlude(group_number, batch):
        count = tf.shape(batch["label"], out_type=tf.int64)[0]
        ids = (start + group_number * group + tf.range(count)) * pipelines + pipeline
        example = synthesizer.training_batch(batch["image"], seed, ids)
        example["label"] = batch["label"]
        return example

    # Graph ops throughout (counter-based draws, no Python control flow on tensors): traced as
    # written, without AutoGraph's conversion of every helper (the small preset's mix: 39 -> 9 s).
    occlude = tf.autograph.experimental.do_not_convert(occlude)
    examples = groups.map(occlude, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).unbatch()
    return examples.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def identity_dataset(source, batch_size, seed=0, augment=True, repeat=True, shuffle_buffer=8192,
                     occlusions=None, occlusion_probability=0.0, start_batch=0):
    """(image float32 in [0, 1], label) batches for training a face recogniser.

    Augmentation (graph ops, seeded per element): horizontal flip, a shift of up
    to 4 pixels (reflect padding) and brightness/contrast jitter; with an
    `OcclusionSynthesizer` as `occlusions`, that share of the faces is then occluded
    by its training occlusions (Eq. 1; ResNet-50-occ of Table I). A run resumed at batch
    `start_batch` continues the face order and the augmentation numbering.
    """
    faces = shuffled_faces(source, seed, start_batch * batch_size, shuffle_buffer, repeat)
    faces = tf.data.Dataset.zip((tf.data.Dataset.counter(start=start_batch),
                                 faces.batch(batch_size, drop_remainder=True)))

    def prepare(batch_number, batch):
        images = tf.cast(batch["image"], tf.float32) / 255.0
        if augment:
            ids = batch_number * batch_size + tf.range(batch_size, dtype=tf.int64)
            flip = counter_random.uniform(seed, 100, ids) < 0.5
            images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
            padded = tf.pad(images, [[0, 0], [4, 4], [4, 4], [0, 0]], mode="REFLECT")
            dy = counter_random.randint(seed, 101, ids, 9)
            dx = counter_random.randint(seed, 102, ids, 9)
            rows = dy[:, None] + tf.range(images.shape[1])[None, :]
            cols = dx[:, None] + tf.range(images.shape[2])[None, :]
            images = tf.gather(padded, rows, axis=1, batch_dims=1)
            images = tf.gather(images, cols, axis=2, batch_dims=1)
            brightness = counter_random.uniform(seed, 103, ids, -0.1, 0.1)[:, None, None, None]
            contrast = counter_random.uniform(seed, 104, ids, 0.8, 1.2)[:, None, None, None]
            mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
            images = tf.clip_by_value((images - mean) * contrast + mean + brightness, 0.0, 1.0)
        if occlusions is not None and occlusion_probability > 0:
            ids = batch_number * batch_size + tf.range(batch_size, dtype=tf.int64)
            params = occlusions.training_parameters(seed + 1, ids)
            params["flip"] = tf.zeros_like(params["flip"])  # the faces are flipped above already
            occluded = occlusions.occlude(images, params)["occluded"]
            chosen = counter_random.uniform(seed, 105, ids) < occlusion_probability
            images = tf.where(chosen[:, None, None, None], occluded, images)
        return images, batch["label"]

    return faces.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def benchmark_dataset(source, synthesizer, seed=0, batch_size=64, conditions=None, max_images=None):
    """Every image under every benchmark condition, in a fixed order.

    The occlusion of (image i, condition c) is the benchmark's (`benchmark_occlusions`):
    it depends only on (seed, i, c), so the set is identical on every run. Conditions
    default to all forms x sizes x positions; pass a subset of `Condition`s.
    """
    conditions = conditions or benchmark_conditions()
    indices = tf.constant([c.index for c in conditions], tf.int32)
    num_conditions = len(conditions)
    faces = source.dataset()
    if max_images is not None:
        faces = faces.take(max_images)
    faces = faces.enumerate()

    def expand(index, face):
        repeat = lambda x: tf.repeat(x[None], num_conditions, axis=0)  # noqa: E731
        return tf.data.Dataset.from_tensor_slices(
            {
                "image": repeat(face["image"]),
                "label": repeat(face["label"]),
                "image_index": repeat(index),
                "condition": indices,
            }
        )

    pairs = faces.flat_map(expand).batch(batch_size)

    def occlude(batch):
        params = benchmark_parameters(synthesizer, seed, batch["image_index"], batch["condition"])
        example = _example(synthesizer, batch["image"], batch["label"], params)
        example["image_index"] = batch["image_index"]
        example["condition"] = batch["condition"]
        return example

    return pairs.map(occlude, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(2)


def distributed_training_dataset(strategy, source, synthesizer, global_batch_size, seed=0, **options):
    """`training_dataset` split across the replicas of a tf.distribute strategy."""
    if global_batch_size % strategy.num_replicas_in_sync:
        raise ValueError(
            f"Global batch size {global_batch_size} is not divisible by "
            f"{strategy.num_replicas_in_sync} replicas."
        )

    def dataset_fn(input_context):
        per_replica = input_context.get_per_replica_batch_size(global_batch_size)
        return training_dataset(source, synthesizer, per_replica, seed, input_context=input_context, **options)

    return strategy.distribute_datasets_from_function(dataset_fn)
