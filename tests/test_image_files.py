"""Reading users' face folders: every format, bad files skipped and named."""

import io
import logging

import numpy as np
import pytest
from PIL import Image

from c2fdan_tf.data.face_sources import ImageFolderFaces, open_face_source
from c2fdan_tf.data.image_files import ImageReadError, read_face_image, scan_image_folder

GOOD = {
    "alice/rgb.jpg", "alice/gray.png", "alice/rgba.png",
    "bob/gray16.png", "bob/cmyk.jpg", "bob/large_nonsquare.png",
}
BAD = {
    "alice/corrupt.jpg": "not an image",
    "alice/empty.png": "empty file",
    "bob/truncated.jpg": "corrupt or truncated",
    "bob/huge.png": "too large",
}


def write_fixture_folder(root):
    """A folder with the files of the issue: good ones in odd formats, and bad ones."""
    (root / "alice").mkdir(parents=True)
    (root / "bob").mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)).save(root / "alice/rgb.jpg", quality=95)
    Image.fromarray(np.full((112, 112), 77, np.uint8), "L").save(root / "alice/gray.png")
    rgba = np.zeros((112, 112, 4), np.uint8)
    rgba[:56] = (255, 0, 0, 255)  # opaque red top, transparent bottom
    Image.fromarray(rgba, "RGBA").save(root / "alice/rgba.png")
    Image.fromarray(np.full((112, 112), 32896, np.uint16)).save(root / "bob/gray16.png")  # 0x8080
    Image.new("RGB", (112, 112), (200, 40, 90)).convert("CMYK").save(root / "bob/cmyk.jpg", quality=95)
    Image.new("RGB", (300, 200), (10, 200, 30)).save(root / "bob/large_nonsquare.png")
    (root / "alice/corrupt.jpg").write_bytes(b"\xff\xd8\xff" + bytes(rng.integers(0, 256, 500, dtype=np.uint8)))
    (root / "alice/empty.png").write_bytes(b"")
    full = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)).save(full, "JPEG")
    (root / "bob/truncated.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    Image.new("1", (11000, 11000)).save(root / "bob/huge.png")  # 121 MP, tiny file
    (root / "bob/notes.txt").write_text("not an image, and not an image extension")


@pytest.fixture
def fixture_folder(tmp_path):
    write_fixture_folder(tmp_path / "faces")
    return tmp_path / "faces"


def test_good_images_load_as_rgb_112(fixture_folder):
    gray, resized = read_face_image(fixture_folder / "alice/gray.png")
    assert gray.shape == (112, 112, 3) and gray.dtype == np.uint8 and not resized
    assert np.all(gray == 77)
    rgba, _ = read_face_image(fixture_folder / "alice/rgba.png")
    assert np.all(rgba[:56] == (255, 0, 0)) and np.all(rgba[56:] == 255)  # transparent -> white
    gray16, _ = read_face_image(fixture_folder / "bob/gray16.png")
    assert np.all(gray16 == 128)  # 0x8080 / 257
    cmyk, _ = read_face_image(fixture_folder / "bob/cmyk.jpg")
    assert np.abs(cmyk.reshape(-1, 3).mean(0) - (200, 40, 90)).max() < 6
    large, resized = read_face_image(fixture_folder / "bob/large_nonsquare.png")
    assert resized and large.shape == (112, 112, 3) and np.all(large == (10, 200, 30))


@pytest.mark.parametrize("name, reason", sorted(BAD.items()))
def test_bad_files_raise_an_error_naming_the_file(fixture_folder, name, reason):
    with pytest.raises(ImageReadError, match=reason) as error:
        read_face_image(fixture_folder / name)
    assert error.value.path.endswith(name) and name in str(error.value)


def test_folder_pipeline_skips_and_reports_bad_files_and_keeps_going(fixture_folder, caplog):
    source = ImageFolderFaces(fixture_folder)
    assert source.listing.layout == "identity" and source.listing.identities == ["alice", "bob"]
    assert len(source) == len(GOOD) + len(BAD)  # notes.txt is not listed
    with caplog.at_level(logging.WARNING):
        elements = list(source.dataset())
    assert len(elements) == len(GOOD)
    for element in elements:
        assert element["image"].shape == (112, 112, 3) and element["image"].dtype == "uint8"
    assert sorted(int(e["label"]) for e in elements) == [0, 0, 0, 1, 1, 1]
    assert {p.split("faces/")[-1] for p in source.report.bad_files} == set(BAD)
    summary = source.report.summary()
    assert f"{len(BAD)} unreadable file(s) skipped" in summary and "truncated.jpg" in summary
    assert "1 image(s) were not 112x112" in summary
    assert sum("must be aligned" in r.message for r in caplog.records) == 1  # warned once
    # A second epoch reads again without duplicating the report.
    assert len(list(source.dataset())) == len(GOOD) and len(source.report.bad_files) == len(BAD)


def test_pipeline_gives_float32_rgb_112_training_batches(fixture_folder):
    from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer
    from c2fdan_tf.data.pipelines import training_dataset

    source = ImageFolderFaces(fixture_folder)
    batches = list(training_dataset(source, OcclusionSynthesizer(), 3, repeat=False))
    assert len(batches) == 2
    for batch in batches:
        for key in ("occluded", "ground_truth"):
            assert batch[key].dtype == "float32" and batch[key].shape == (3, 112, 112, 3)
            assert 0.0 <= float(batch[key].numpy().min()) and float(batch[key].numpy().max()) <= 1.0


def test_flat_layout_and_folder_errors(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(3):
        Image.new("RGB", (112, 112), (i, i, i)).save(flat / f"{i}.png")
    listing = scan_image_folder(flat)
    assert listing.layout == "flat" and len(listing) == 3 and set(listing.labels) == {-1}
    with pytest.raises(ValueError, match="does not exist"):
        scan_image_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="contains no images"):
        scan_image_folder(tmp_path / "empty")
    with pytest.raises(ValueError, match="does not exist.*--data=synth"):
        open_face_source(str(tmp_path / "missing"))


def test_a_dataset_root_with_split_folders_is_refused_with_a_hint(tmp_path):
    """VGGFace2's root holds train/ and test/: taken as two identities it would train a
    two-class extractor without a word."""
    root = tmp_path / "vggface2"
    for split, person in (("train", "n000002"), ("test", "n000001")):
        (root / split / person).mkdir(parents=True)
        Image.new("RGB", (112, 112)).save(root / split / person / "0001_01.jpg")
    with pytest.raises(ValueError, match="split folders test/, train/, not one folder per identity") as error:
        scan_image_folder(root)
    assert str(root / "train") in str(error.value) and "\n" not in str(error.value)
    assert scan_image_folder(root / "train").identities == ["n000002"]  # one split is what it takes


def test_load_into_memory_fails_clearly_when_nothing_is_readable(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="(?s)No readable image.*a.jpg"):
        ImageFolderFaces(folder).load()
