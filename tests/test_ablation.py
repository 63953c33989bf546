"""Table I's ablation command: rows' configurations and one run end to end (tiny preset)."""

import json

import pytest

from c2fdan_tf.training.ablation import ABLATION_ROWS, check_rows, row_config
from c2fdan_tf.training.config import preset
from tests.commands import assert_one_line_error, run_script


def test_rows_switch_the_papers_losses_and_attention():
    small = preset("small")  # its own full-stage losses: no style, '*'
    expected = {  # Table I: (λ_per, λ_style, '*', attention), λ as in Sec. IV-A when on
        "per_style": (0.1, 240.0, False, "both"), "per": (0.1, 0.0, False, "both"),
        "style": (0.0, 240.0, False, "both"), "per_self": (0.1, 0.0, False, "self"),
        "per_cross": (0.1, 0.0, False, "cross"), "per_star": (0.1, 0.0, True, "both"),
    }
    assert set(expected) == set(ABLATION_ROWS)
    for name, (perceptual, style, star, attention) in expected.items():
        config = row_config(small, ABLATION_ROWS[name])
        losses = config.losses.full
        assert (losses.perceptual, losses.style, losses.occluded_on_fine, config.model.attention) == (
            perceptual, style, star, attention), name
        # Everything else is the preset's: pixel-wise and adversarial terms, the stage-1 recipe, widths.
        assert (losses.mask, losses.occluded, losses.non_occluded, losses.adversarial) == (
            small.losses.full.mask, small.losses.full.occluded, small.losses.full.non_occluded,
            small.losses.full.adversarial)
        assert config.losses.coarse == small.losses.coarse and config.model.width == small.model.width
    with pytest.raises(ValueError, match="Unknown ablation row"):
        check_rows(["per", "dmfb"])


def test_ablation_command_trains_rows_from_shared_stages_and_writes_the_table(tmp_path):
    work = tmp_path / "work"
    common = [f"--workdir={work}", "--config=tiny", "--gallery_identities=3", "--images_per_identity=2",
              "--distractors=20", "--verification_pairs=20"]
    result = run_script("ablation.py", tmp_path, *common, "--rows=per,per_self", timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    for row, attention in (("per", "both"), ("per_self", "self")):
        stage = work / "ablation" / row / "full"
        assert (stage / "generator_best.keras").exists()
        config = json.loads((stage / "config.json").read_text())
        assert config["model"]["attention"] == attention and config["losses"]["full"]["style"] == 0.0
    assert not (work / "ablation" / "per" / "coarse").exists()  # the shared stage 1, trained once
    table = (work / "ablation" / "eval" / "ablation.md").read_text()
    assert "`per_self`: L_per, attention self" in table
    assert "| Coarse network (stage 1) |" in table
    rows = [line for line in table.splitlines() if line.startswith("| C2FDAN — ")]
    assert len(rows) == 2 and "per_full" in rows[0] and "per_self_full" in rows[1]
    # Run again: every stage is reused, only the evaluation runs.
    again = run_script("ablation.py", tmp_path, *common, "--rows=per", timeout=1200)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "stage coarse: reused" in again.stdout and "Epoch" not in again.stdout
    assert_one_line_error(run_script("ablation.py", tmp_path, *common, "--rows=dmfb"), "Unknown ablation row")
