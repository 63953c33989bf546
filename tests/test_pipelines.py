"""tf.data pipelines and TFRecord conversion."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from c2fdan_tf.data.face_sources import InMemoryFaces, TFRecordFaces, open_face_source, render_synthetic_split
from c2fdan_tf.data.image_files import read_face_image
from c2fdan_tf.data.benchmark_occlusions import benchmark_conditions
from c2fdan_tf.data.occluders.paper import FORMS, POSITIONS, OcclusionSynthesizer
from c2fdan_tf.data.pipelines import benchmark_dataset, training_dataset
from c2fdan_tf.data.tfrecords import write_tfrecords
from tests.test_image_files import BAD, GOOD, write_fixture_folder


@pytest.fixture(scope="module")
def synthesizer():
    return OcclusionSynthesizer()


@pytest.fixture(scope="module")
def source():
    faces, labels = render_synthetic_split(0, "train", 6, 4)
    return InMemoryFaces(faces, labels)


def test_training_batches_have_the_documented_structure(source, synthesizer):
    batch = next(iter(training_dataset(source, synthesizer, 8, seed=1)))
    assert batch["occluded"].shape == (8, 112, 112, 3) and batch["occluded"].dtype == tf.float32
    assert batch["mask"].shape == (8, 112, 112, 1)
    assert batch["ground_truth"].shape == (8, 112, 112, 3)
    assert batch["label"].dtype == tf.int32 and batch["color"].shape == (8, 3)
    assert set(np.unique(batch["mask"].numpy())) <= {0.0, 1.0}
    # Ground truths are the source faces (possibly mirrored).
    faces = source.images.astype(np.float32) / 255.0
    for truth in batch["ground_truth"].numpy():
        assert any(np.array_equal(truth, f) or np.array_equal(truth, f[:, ::-1]) for f in faces)


def test_training_pipeline_is_reproducible_and_occlusions_change_every_epoch(source, synthesizer):
    def first_batches(seed, n):
        return [b["occluded"].numpy() for b in training_dataset(source, synthesizer, 6, seed=seed).take(n)]

    a, b = first_batches(3, 8), first_batches(3, 8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], first_batches(4, 1)[0])
    # 24 faces, batch 6: batches 0 and 4 hold the same faces in the 1st and 2nd epoch
    # (shuffled), with new occlusions.
    masks = [b["mask"].numpy() for b in training_dataset(source, synthesizer, 24, seed=3).take(2)]
    assert not np.array_equal(masks[0], masks[1])


def test_input_pipeline_shards_are_disjoint_and_complete(source, synthesizer):
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2)
        faces = source.dataset(context)
        seen.append({hash(e["image"].numpy().tobytes()) for e in faces})
    assert not (seen[0] & seen[1]) and len(seen[0] | seen[1]) == len(source)
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2)
    batch = next(iter(training_dataset(source, synthesizer, 4, seed=0, input_context=context)))
    assert batch["occluded"].shape[0] == 4


def test_benchmark_set_covers_every_condition_deterministically(source, synthesizer):
    def collect():
        return [b for b in benchmark_dataset(source, synthesizer, seed=5, batch_size=20, max_images=3)]

    first, second = collect(), collect()
    for a, b in zip(first, second):
        for key in a:
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    merged = {k: np.concatenate([b[k].numpy() for b in first]) for k in first[0]}
    conditions = benchmark_conditions()
    assert len(merged["condition"]) == 3 * len(conditions)
    pairs = set(zip(merged["image_index"].tolist(), merged["condition"].tolist()))
    assert pairs == {(i, c) for i in range(3) for c in range(len(conditions))}
    for c, (form, size, position) in enumerate(conditions):
        rows = merged["condition"] == c
        assert np.all(merged["form"][rows] == FORMS.index(form))
        assert np.allclose(merged["size"][rows], size)
        assert np.all(merged["position"][rows] == POSITIONS.index(position))
    faces = source.images[:3].astype(np.float32) / 255.0
    np.testing.assert_array_equal(merged["ground_truth"], faces[merged["image_index"]])  # never flipped


def test_tfrecords_round_trip_with_bad_files_listed(tmp_path):
    folder = tmp_path / "faces"
    write_fixture_folder(folder)
    out = tmp_path / "records"
    index = write_tfrecords(folder, out, num_shards=4)
    assert index["num_images"] == len(GOOD) and index["num_identities"] == 2
    assert {p.split("faces/")[-1] for p in index["bad_files"]} == set(BAD)
    assert sorted(p.name for p in out.iterdir()) == sorted(index["shards"] + ["index.json"])
    assert json.loads((out / "index.json").read_text())["resized"] == 1
    source = open_face_source(str(out))
    assert isinstance(source, TFRecordFaces) and len(source) == len(GOOD)
    read_back = {(e["image"].numpy().tobytes(), int(e["label"])) for e in source.dataset()}
    expected = {
        (read_face_image(folder / name)[0].tobytes(), 0 if name.startswith("alice") else 1) for name in GOOD
    }
    assert read_back == expected  # PNG is lossless


def test_tfrecords_command_reports_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "c2fdan_tf.commands.tfrecords", f"--input={tmp_path / 'nope'}",
         f"--output={tmp_path / 'out'}"],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("error: Data folder")
    assert "Traceback" not in result.stderr


def test_fixed_validation_set_mixes_identities_and_repeats_exactly(source, synthesizer):
    def first_batches():
        data = training_dataset(source, synthesizer, 8, seed=2, reshuffle=False).take(2)
        return [(b["occluded"].numpy(), b["label"].numpy()) for b in data]

    a, b = first_batches(), first_batches()
    for (x, labels), (y, _) in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert len(set(a[0][1].tolist())) > 2  # not one identity's images in a row


def test_identity_batches_with_occlusion_augmentation(source, synthesizer):
    from c2fdan_tf.data.pipelines import identity_dataset

    def batches(**occlusion):
        dataset = identity_dataset(source, 24, seed=3, shuffle_buffer=0, **occlusion)
        return [(images.numpy(), labels.numpy()) for images, labels in dataset.take(2)]

    clean = batches()
    for probability, expected in ((0.0, 0), (1.0, 48)):
        occluded = batches(occlusions=synthesizer, occlusion_probability=probability)
        changed = sum(int(np.any(np.abs(a - b) > 1e-6)) for (x, _), (y, _) in zip(clean, occluded)
                      for a, b in zip(x, y))
        assert changed == expected
    half = batches(occlusions=synthesizer, occlusion_probability=0.5)
    changed, share_in_range = 0, []
    for (images, labels), (augmented, same_labels) in zip(clean, half):
        np.testing.assert_array_equal(labels, same_labels)  # labels are untouched
        for face, result in zip(images, augmented):
            differs = np.any(np.abs(face - result) > 1e-6, axis=-1)
            if not differs.any():
                continue
            changed += 1
            # Eq. 1: the changed pixels are one flat colour (the occluder), the rest is the face.
            colours = result[differs]
            assert np.ptp(colours, axis=0).max() < 1e-6
            share_in_range.append(differs.mean())
    assert 14 <= changed <= 34  # 48 faces at p = 0.5 (binomial: 24 +- 10 covers > 99.5 %)
    assert 0 < min(share_in_range) and max(share_in_range) < 0.6


def test_face_order_is_a_new_permutation_every_epoch_and_resumes_anywhere():
    from c2fdan_tf.data.pipelines import face_order

    stream = np.array(list(face_order(10, seed=4).take(35).as_numpy_iterator()))
    epochs = [stream[i:i + 10] for i in (0, 10, 20)]
    for epoch in epochs:
        assert sorted(epoch.tolist()) == list(range(10))  # every face once per epoch
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[0], np.arange(10))
    for start in (0, 7, 10, 23):  # a resumed stream is the uninterrupted one from `start` on
        resumed = np.array(list(face_order(10, seed=4, start=start).take(35 - start).as_numpy_iterator()))
        np.testing.assert_array_equal(resumed, stream[start:])
    fixed = np.array(list(face_order(10, seed=4, reshuffle=False).take(20).as_numpy_iterator()))
    np.testing.assert_array_equal(fixed[:10], fixed[10:])
    assert len(list(face_order(10, seed=4, start=3, repeat=False))) == 7


def test_resumed_training_batches_continue_the_uninterrupted_stream(source, synthesizer):
    """Faces, occlusions and labels of batches 5.. of a run resumed at batch 5 are those of
    the run that never stopped (24 faces, batch 4: batch 5 is in the second epoch)."""
    whole = list(training_dataset(source, synthesizer, 4, seed=6).take(8))
    resumed = list(training_dataset(source, synthesizer, 4, seed=6, start_batch=5).take(3))
    for a, b in zip(whole[5:], resumed):
        for key in ("occluded", "mask", "ground_truth", "label"):
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)
    # Two input pipelines of a distributed run split the one global stream between them.
    per_pipeline = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        batch = next(iter(training_dataset(source, synthesizer, 2, seed=6, input_context=context)))
        per_pipeline.append(batch["ground_truth"].numpy())
    first = whole[0]["ground_truth"].numpy()
    np.testing.assert_array_equal(np.stack([per_pipeline[0][0], per_pipeline[1][0], per_pipeline[0][1],
                                            per_pipeline[1][1]]), first)


def test_tfrecord_shards_mix_the_identities(tmp_path):
    """Written in a seeded random order, not identity after identity."""
    folder = tmp_path / "faces"
    for person in range(6):
        (folder / f"p{person}").mkdir(parents=True)
        for k in range(4):
            from PIL import Image

            Image.new("RGB", (112, 112), (person * 40, k * 60, 0)).save(folder / f"p{person}" / f"{k}.png")
    write_tfrecords(folder, tmp_path / "records", num_shards=1)
    labels = [int(e["label"]) for e in TFRecordFaces(tmp_path / "records").dataset()]
    assert sorted(labels) == sorted(np.repeat(np.arange(6), 4).tolist())
    assert labels != sorted(labels) and len(set(labels[:6])) >= 3
