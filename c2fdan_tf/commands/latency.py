"""Median latency of one artifact at batch 1, in this process (the export benchmark
starts one such process per artifact and thread count).

    python -m c2fdan_tf.commands.latency --kind=tflite --path=c2fdan_fp32.tflite --threads=2

Prints one JSON line: {"kind", "threads", "runs", "median_ms"} (and "gflops" for
kind conv_reference).
"""

import json
import sys

from absl import app, flags

from c2fdan_tf import console
from c2fdan_tf.inference.latency import KINDS

_KIND = flags.DEFINE_enum("kind", None, KINDS, "What to time.")
_PATH = flags.DEFINE_string("path", "", "The artifact (file or folder).")
_THREADS = flags.DEFINE_integer("threads", 1, "Threads of the runtime.")
_RUNS = flags.DEFINE_integer("runs", 10, "Timed runs (after warm-up).")
console.define_verbose_flag()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from c2fdan_tf.inference.latency import measure
    from c2fdan_tf.inference.runners import ModelError

    try:
        result = measure(_KIND.value, _PATH.value, _THREADS.value, _RUNS.value)
    except ModelError as error:
        sys.exit(f"error: {error}")
    print(json.dumps({"kind": _KIND.value, "threads": _THREADS.value, "runs": _RUNS.value, **result}))


if __name__ == "__main__":
    console.start(sys.argv)
    flags.mark_flag_as_required("kind")
    app.run(main)
