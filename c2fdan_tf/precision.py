"""Which floating-point precision a run computes in, chosen once and written down.

    --precision=auto | float32 | mixed_bfloat16 | mixed_float16

`auto` picks `mixed_bfloat16` on a CPU with AMX-BF16 (oneDNN runs bfloat16
convolutions and matmuls on the AMX tiles, several times the float32 peak),
`mixed_float16` when a CUDA GPU is visible (with loss scaling in training), and
`float32` otherwise. A CPU with bfloat16 instructions but no AMX (AVX512_BF16
alone) stays on float32: there oneDNN's bfloat16 kernels are slower than its
float32 ones. Mixed policies keep variables, losses, metrics, the mask sigmoid,
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
    reason = "no AMX-BF16 (AVX512_BF16 alone is slower than float32)" if "avx512_bf16" in flags else "no AMX-BF16"
    return "float32", f"auto: no GPU, {reason}"


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
