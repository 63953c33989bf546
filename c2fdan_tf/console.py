"""What the command lines print: their own lines, not TensorFlow's start-up noise.

TensorFlow's native libraries write to file descriptor 2 directly (absl's
"WARNING: All log messages before absl::InitializeLog() ...", the oneDNN notice,
grappler's "remapper failed" errors), whatever `TF_CPP_MIN_LOG_LEVEL` says.
`start(argv)`, called by every command before TensorFlow is imported, routes
descriptor 2 through a filter that drops those native log lines (`I0000 ...`,
`W0000 ...`, `E0000 ...`, LiteRT's XNNPACK notice; fatal `F` lines pass) and
passes everything else on unchanged, including the command's own errors; it also
silences TensorFlow's Python logger below ERROR and two known harmless Python
warnings. `--verbose` leaves all of it alone.

Progress: Keras' bar on a terminal, one line per epoch when output is a file
(`fit_verbosity`); tqdm bars only on a terminal (`bars_disabled`).
"""

import atexit
import os
import re
import sys
import threading

# Native log lines: absl's preamble, and glog-style "I0000 00:00:<time> <thread> <file>.cc:<line>] ...".
# absl's *Python* logging has the same layout ("W1204 03:50:24.990 1234 image_files.py:217] ...") and
# carries the project's own warnings: only lines from C/C++ source files are native.
_NATIVE_LOG = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+\.(?:cc|cpp|cxx|c|h|hpp|hh|mm?):\d+\]"
    rb"|To enable the following instructions: .* rebuild TensorFlow"  # cpu_feature_guard's second line
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.)"
)
_state = {}


def define_verbose_flag():
    """The `--verbose` flag every command shares."""
    from absl import flags

    return flags.DEFINE_bool("verbose", False, "Also show TensorFlow's own log lines and warnings.")


def wants_verbose(argv):
    return any(arg in ("--verbose", "--verbose=true", "--verbose=True", "--verbose=1") for arg in argv[1:])


def start(argv):
    """Quiets TensorFlow's native and Python logging unless `--verbose` is in argv."""
    if wants_verbose(argv):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import logging
    import warnings

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # Known, harmless Python warnings: a validation set is finite by design; tf2onnx probes np.object.
    warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module="keras.src.export.tf2onnx_lib")
    filter_native_logs()


def unfiltered_stderr():
    """The file descriptor of the real stderr: a child process writing while this one is
    blocked in native code (the filter thread cannot run then) must use it."""
    return _state.get("original", 2)


def filter_native_logs():
    """Routes file descriptor 2 through a thread that drops native log lines."""
    if "thread" in _state:
        return
    sys.stderr.flush()
    _state["stderr_was_terminal"] = os.isatty(2)
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    thread = threading.Thread(target=_pump, args=(read_end, original), daemon=True, name="stderr-filter")
    thread.start()
    _state.update(thread=thread, original=original)
    atexit.register(_stop)


def _pump(read_end, original):
    pending = b""
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        out = b"".join(line + b"\n" for line in lines if not _NATIVE_LOG.match(line))
        if b"\r" in pending:  # a progress bar redrawing its line: pass it on now
            cut = pending.rindex(b"\r") + 1
            out, pending = out + pending[:cut], pending[cut:]
        if out:
            os.write(original, out)
    if pending and not _NATIVE_LOG.match(pending):
        os.write(original, pending)
    os.close(read_end)


def _stop():
    """Restores descriptor 2 and lets the filter write out what it still holds."""
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os.dup2(_state["original"], 2)  # closes the pipe's last write end: the filter sees EOF
    _state["thread"].join(timeout=5)


def is_terminal(stream=None):
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty()


def fit_verbosity():
    """Keras `fit(verbose=...)`: the bar on a terminal, one line per epoch in a log file."""
    return 1 if is_terminal() else 2


def bars_disabled(wanted=True):
    """tqdm's `disable=`: bars only when wanted and stderr is a terminal."""
    terminal = _state.get("stderr_was_terminal", is_terminal(sys.stderr))
    return not (wanted and terminal)
