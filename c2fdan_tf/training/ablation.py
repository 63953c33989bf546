"""Table I's ablation rows (Sec. IV-D): the full stage trained with losses and attention
switched on and off, every row from the same extractor and stage-1 coarse checkpoint."""

import dataclasses
from pathlib import Path

from c2fdan_tf.training.config import replace_path
from c2fdan_tf.training.stages import StageError, run_stage
from c2fdan_tf.training.workdir import stage_checkpoint

PAPER_PERCEPTUAL, PAPER_STYLE = 0.1, 240.0  # λ_id^per, λ_id^style (Sec. IV-A)


@dataclasses.dataclass(frozen=True)
class AblationRow:
    perceptual: bool
    style: bool
    attention: str = "both"
    occluded_on_fine: bool = False  # Table I's '*'

    def describe(self):
        losses = [name for name, on in (("L_per", self.perceptual), ("L_style", self.style)) if on]
        star = " + L_occ on I_f (*)" if self.occluded_on_fine else ""
        return f"{' + '.join(losses) or 'no identity loss'}{star}, attention {self.attention}"


# Every row also has the pixel-wise and adversarial losses (Eq. 4), as in Table I.
ABLATION_ROWS = {
    "per_style": AblationRow(perceptual=True, style=True),  # the paper's recipe
    "per": AblationRow(perceptual=True, style=False),  # the paper's best recognition
    "style": AblationRow(perceptual=False, style=True),
    "per_self": AblationRow(perceptual=True, style=False, attention="self"),
    "per_cross": AblationRow(perceptual=True, style=False, attention="cross"),
    "per_star": AblationRow(perceptual=True, style=False, occluded_on_fine=True),  # the small preset's row
}


def check_rows(names):
    unknown = [name for name in names if name not in ABLATION_ROWS]
    if unknown:
        raise ValueError(f"Unknown ablation row(s) {', '.join(unknown)}; choose from {', '.join(ABLATION_ROWS)}.")
    return list(names)


def row_config(config, row):
    """`config` with the full stage's identity losses, '*' and attention of `row`."""
    losses = dataclasses.replace(config.losses.full, perceptual=PAPER_PERCEPTUAL if row.perceptual else 0.0,
                                 style=PAPER_STYLE if row.style else 0.0, occluded_on_fine=row.occluded_on_fine)
    return replace_path(replace_path(config, "losses.full", losses), "model.attention", row.attention)


def train_ablation(config, workdir, rows, verbose=1, log=print):
    """Trains (or reuses) WORKDIR/extractor and WORKDIR/coarse, then every row's full stage
    into WORKDIR/ablation/<row>/full from them; returns {row: its generator checkpoint}."""
    workdir = Path(workdir)
    for stage in ("extractor", "coarse"):
        result = run_stage(config, stage, workdir, verbose=verbose, log=log)
        log(f"stage {stage}: {'reused' if result.skipped else 'trained'} ({result.directory})")
    coarse, extractor = stage_checkpoint(workdir, "coarse"), stage_checkpoint(workdir, "extractor")
    checkpoints = {}
    for name in check_rows(rows):
        row = ABLATION_ROWS[name]
        log(f"row {name}: {row.describe()}")
        result = run_stage(row_config(config, row), "full", workdir / "ablation" / name, init_from=coarse,
                           extractor_path=extractor, verbose=verbose, log=log)
        checkpoint = stage_checkpoint(result.directory.parent, "full")
        if not checkpoint.exists():
            raise StageError(f"row {name} finished without {checkpoint}.")
        checkpoints[name] = checkpoint
    return checkpoints
