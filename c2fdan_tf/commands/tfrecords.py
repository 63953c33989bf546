"""Converts a folder of face images into sharded TFRecords (for large datasets).

    python -m c2fdan_tf.commands.tfrecords --input=FACES_DIR --output=RECORDS_DIR --shards=64

Unreadable files are skipped and listed; see `c2fdan_tf.data.tfrecords`.
"""

import sys

from absl import app, flags

from c2fdan_tf import console

_INPUT = flags.DEFINE_string("input", None, "Folder of aligned faces (identity sub-folders or flat).")
_OUTPUT = flags.DEFINE_string("output", None, "Folder for the TFRecord shards and index.json.")
_SHARDS = flags.DEFINE_integer("shards", 16, "Number of shards.")
console.define_verbose_flag()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from c2fdan_tf.data.tfrecords import write_tfrecords

    try:
        index = write_tfrecords(_INPUT.value, _OUTPUT.value, _SHARDS.value, progress=True)
    except ValueError as error:
        sys.exit(f"error: {error}")
    print(
        f"Wrote {index['num_images']} faces of {index['num_identities']} identities into "
        f"{len(index['shards'])} shards in {_OUTPUT.value}; skipped {len(index['bad_files'])} "
        f"unreadable file(s), resized {index['resized']}."
    )
    for path, reason in sorted(index["bad_files"].items()):
        print(f"  skipped {path}: {reason}")


if __name__ == "__main__":
    console.start(sys.argv)
    flags.mark_flags_as_required(["input", "output"])
    app.run(main)
