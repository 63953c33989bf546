"""Which floating-point precision a run computes in, chosen once and written down.

    --precision=auto | float32 | mixed_bfloat16 | mixed_float16

`auto` picks `mixed_float16` when a CUDA GPU is visible (with loss scaling in
training), `mixed_bfloat16` on a CPU with bfloat16 dot-product instructions, and
`float32` otherwise. bfloat16 instructions means AMX-BF16 (oneDNN on the AMX
tiles: 3x3 conv 6.2x the float32 speed, whole GAN step 2.8x at width 64, measured
in the second release's planning) or AVX512_BF16 (measured here on an AMD EPYC
without AMX: conv 2.0x, GAN step 2.0x / 1.7x / 2.1x at widths 16 / 32 / 64, see
benchmarks/training_throughput.py). A CPU with neither emulates bfloat16 and is
several times slower than float32: auto never picks it there. Mixed policies keep
variables, losses, metrics, the mask sigmoid,
the Eq. 2 blends, attention softmaxes and similarities, and every output in
float32 (the layers cast where it matters).
"""

import contextlib
from pathlib import Path

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
POLICIES = PRECISIONS[1:]


def cpu_flags(cpuinfo=None):
    """The CPU feature flags from /proc/cpuinfo's text (empty where there is none)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and ":" in line:
            return set(line.split(":", 1)[1].split())
    return set()


def visible_gpus():
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def resolve_precision(choice, flags=None, gpus=None):
    """(policy name, one-line reason). `flags` and `gpus` default to this machine's."""
    if choice not in PRECISIONS:
        raise ValueError(f"Unknown precision {choice!r}; choose from {', '.join(PRECISIONS)}.")
    if choice != "auto":
        return choice, "asked for"
    gpus = visible_gpus() if gpus is None else gpus
    if gpus:
        return "mixed_float16", f"auto: {gpus} CUDA GPU(s) visible"
    flags = cpu_flags() if flags is None else set(flags)
    if "amx_bf16" in flags:
        return "mixed_bfloat16", "auto: the CPU has AMX-BF16"
    if "avx512_bf16" in flags:
        return "mixed_bfloat16", "auto: the CPU has AVX512_BF16 (no AMX)"
    return "float32", "auto: no GPU and no bfloat16 instructions (AMX-BF16 or AVX512_BF16)"


@contextlib.contextmanager
def policy_scope(policy):
    """Sets the global Keras dtype policy for the block (layers built inside take it)."""
    import keras

    if policy not in POLICIES:
        raise ValueError(f"Unknown dtype policy {policy!r}; choose from {', '.join(POLICIES)}.")
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
