"""Table I's ablation rows' configurations (the command end to end runs on the main job's work
directory, in test_main_job)."""

import pytest

from c2fdan_tf.training.ablation import ABLATION_ROWS, check_rows, row_config
from c2fdan_tf.training.config import preset


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
