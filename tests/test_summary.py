"""The summary command's counts against hand-derived convolution arithmetic."""

import subprocess
import sys

from c2fdan_tf.models import CoarseNetwork
from c2fdan_tf.compute_cost import generator_cost_rows


def coarse_conv_macs(w):
    """Multiply-accumulates of every convolution of the coarse network, by hand."""
    k = 9  # 3x3
    encoder = 112**2 * k * (3 * w + w * w) + 56**2 * k * (w * 2 * w + 4 * w * w)
    encoder += 28**2 * k * (2 * w * 4 * w + 16 * w * w)
    c, b = 4 * w, w  # DMFB on 4w channels, branches of a quarter
    dmfb = 28**2 * (k * c * b + 4 * k * b * b + 3 * k * b * b + b * 4 * c)
    latent = 28**2 * k * c * c
    branch = 56**2 * k * (6 * w * 2 * w + 2 * 4 * w * w) + 112**2 * k * (3 * w * w + 2 * w * w)
    heads = 112**2 * k * w * (3 + 1)
    return encoder + dmfb + latent + 2 * branch + heads


def test_summary_counts_match_hand_arithmetic():
    rows = {name: (params, macs) for name, params, macs in generator_cost_rows(width=8)}
    assert rows["coarse network"][0] == CoarseNetwork(width=8).count_params()
    expected = coarse_conv_macs(8)
    # The profiler also counts bias adds and activations: a little above the convs.
    assert expected <= rows["coarse network"][1] <= 1.03 * expected
    total = rows["generator"]
    assert total[0] == rows["coarse network"][0] + rows["fine network"][0]
    assert abs(total[1] - rows["coarse network"][1] - rows["fine network"][1]) <= 0.01 * total[1]


def test_summary_command_prints_a_table():
    result = subprocess.run(
        [sys.executable, "-m", "c2fdan_tf.commands.summary", "--width=4", "--attention=self"],
        capture_output=True, text=True, check=True,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [line.split("|")[1].strip() for line in lines[1:]] == [
        "coarse network", "fine network", "generator"]
    assert "attention self" in result.stdout
