"""insightface's training packs (train.rec/train.idx) and verification sets (lfw.bin), read
without MXNet, on small files written here in the exact layout (MXNet RecordIO, IRHeader,
insightface's header record; a pickle of encoded images and flags)."""

import io
import os
import pickle
import struct

import numpy as np
import pytest
from PIL import Image

from c2fdan_tf.data.face_sources import open_face_source
from c2fdan_tf.data.insightface_formats import RecordFileFaces, RecordFormatError, read_verification_bin
from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer
from c2fdan_tf.data.pipelines import training_dataset
from tests.commands import assert_one_line_error, run_script

MAGIC = 0xCED7230A


def png(value):
    buffer = io.BytesIO()
    Image.fromarray(np.full((112, 112, 3), value, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def ir_record(labels, payload):
    """IRHeader 'IfQQ' (flag, label, id, id2), with `flag` extra float labels when several."""
    if len(labels) == 1:
        return struct.pack("<IfQQ", 0, labels[0], 0, 0) + payload
    return struct.pack("<IfQQ", len(labels), 0.0, 0, 0) + struct.pack(f"<{len(labels)}f", *labels) + payload


def write_pack(folder, identities=3, per_identity=2, split_record=None):
    """insightface's layout: record 0 = header (first identity record, end), images 1..N (label =
    identity), identity records N+1.. with (first image, end). `split_record`: that image's data
    is written in two parts around the magic number, as MXNet writes data that contains it."""
    folder.mkdir(parents=True, exist_ok=True)
    records, faces = {}, {}
    count = identities * per_identity
    records[0] = ir_record([count + 1, count + 1 + identities], b"")
    for n in range(count):
        faces[n + 1] = (n * 20, n // per_identity)
        records[n + 1] = ir_record([float(n // per_identity)], png(n * 20))
    for i in range(identities):
        start = 1 + i * per_identity
        records[count + 1 + i] = ir_record([start, start + per_identity], b"")
    offsets = {}
    with open(folder / "train.rec", "wb") as out:
        for key, data in records.items():
            offsets[key] = out.tell()
            # As if the magic number sat at byte 40 of the split record's data: MXNet leaves it out
            # between the parts, and the reader puts it back.
            parts = [data] if key != split_record else [data[:40], data[40:]]
            for p, part in enumerate(parts):
                flag = 0 if len(parts) == 1 else (1 if p == 0 else 3)
                out.write(struct.pack("<II", MAGIC, (flag << 29) | len(part)) + part + b"\0" * (-len(part) % 4))
    (folder / "train.idx").write_text("".join(f"{k}\t{o}\n" for k, o in offsets.items()))
    (folder / "property").write_text(f"{identities},112,112")
    return faces, records


def test_a_record_pack_reads_every_face_with_its_identity(tmp_path):
    faces, _ = write_pack(tmp_path / "faces_emore")
    source = open_face_source(str(tmp_path / "faces_emore"))
    assert isinstance(source, RecordFileFaces)
    assert len(source) == 6 and source.num_identities == 3
    read = [(e["image"].numpy(), int(e["label"])) for e in source.dataset()]
    for (image, label), (value, identity) in zip(read, faces.values()):
        assert np.all(image == value) and label == identity
    # The .rec path itself works too, and training draws from it in a global shuffle.
    batch = next(iter(training_dataset(open_face_source(str(tmp_path / "faces_emore" / "train.rec")),
                                       OcclusionSynthesizer(), 6, seed=0)))
    assert sorted(batch["label"].numpy().tolist()) == [0, 0, 1, 1, 2, 2]


def test_a_record_split_around_the_magic_number_is_joined(tmp_path):
    """MXNet splits a record whose data holds the magic number there (flags 1 ... 3)."""
    _, records = write_pack(tmp_path / "pack", split_record=2)
    source = RecordFileFaces(tmp_path / "pack")
    joined = source._payload(2)
    data = records[2]
    assert joined == data[:40] + struct.pack("<I", MAGIC) + data[40:]


def test_damaged_packs_are_one_line_errors_naming_the_file(tmp_path):
    write_pack(tmp_path / "pack")
    (tmp_path / "pack" / "train.idx").unlink()
    with pytest.raises(RecordFormatError, match="has no index train.idx"):
        open_face_source(str(tmp_path / "pack"))
    write_pack(tmp_path / "cut")
    rec = tmp_path / "cut" / "train.rec"
    rec.write_bytes(rec.read_bytes()[: os.path.getsize(rec) // 2])
    source = RecordFileFaces(tmp_path / "cut")
    with pytest.raises(RecordFormatError, match="truncated at byte|no record at byte"):
        source._payload(int(source.keys[-1]))
    result = run_script("train.py", tmp_path, f"--workdir={tmp_path / 'w'}", "--stage=extractor", "--config=tiny",
                        f"--data={tmp_path / 'pack'}")
    assert_one_line_error(result, "has no index train.idx")


def test_a_verification_bin_gives_its_pairs_and_refuses_code(tmp_path):
    bins = [png(v) for v in (10, 20, 30, 40)]
    path = tmp_path / "lfw.bin"
    with open(path, "wb") as out:
        pickle.dump((bins, [True, False]), out, protocol=2)
    images, same = read_verification_bin(path)
    assert images.shape == (4, 112, 112, 3) and same.tolist() == [True, False]
    assert [int(i[0, 0, 0]) for i in images] == [10, 20, 30, 40]

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    with open(tmp_path / "evil.bin", "wb") as out:
        pickle.dump(([b"x", b"y"], [Exploit()]), out)
    with pytest.raises(RecordFormatError, match="never holds"):
        read_verification_bin(tmp_path / "evil.bin")
    (tmp_path / "odd.bin").write_bytes(pickle.dumps((bins[:3], [True, False])))
    with pytest.raises(RecordFormatError, match="3 images for 2 pairs"):
        read_verification_bin(tmp_path / "odd.bin")
