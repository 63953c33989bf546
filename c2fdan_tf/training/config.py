"""Training configuration shaped like the paper's recipe (Sec. IV-A): nested
dataclasses with named presets, overridden by flags in one function.

    TrainConfig
      model     ModelConfig      generator, discriminators and extractor shapes
      data      DataConfig       where faces come from, the held-out split, the seed
      losses    StageLosses      one LossWeights (Eq. 4) per generator stage
      runtime   RuntimeConfig    strategy, precision, XLA, backups
      schedule  StageSchedules   one Schedule per stage (epochs, steps, batch, rates)

The resolved configuration of every run is written into its stage folder
(`config.json`) and can be read back with `load_config`.
"""

import dataclasses
import json
from pathlib import Path

from c2fdan_tf.data.face_renderers import DEFAULT_RENDERER, renderer
from c2fdan_tf.data.occluders.families import WILD_MIX, parse_mix

from c2fdan_tf.losses import LossWeights
from c2fdan_tf.training.stage import GENERATOR_STAGES

# The paper's three stages, then Table I's baselines: BVMR and ResNet-50-occ (the extractor
# trained with occlusion augmentation).
STAGE_NAMES = ("extractor", "coarse", "full", "bvmr", "extractor_occ")
EXTRACTOR_STAGES = ("extractor", "extractor_occ")


@dataclasses.dataclass
class ModelConfig:
    width: int = 64  # generator base channels (paper: 64)
    attention: str = "both"
    cross_attention_mode: str = "hard"
    exclude_partially_masked_keys: bool = False  # not in the paper (PatchCrossAttention)
    discriminator_width: int = 64
    extractor_architecture: str = "resnet50v2"
    extractor_width: int = 32
    extractor_blocks: tuple = (1, 1, 1, 1)
    # The network of the identity losses (Eq. 8-10): "project" (the extractor stage's) or
    # "face_api" (face-api.js' pretrained recognizer; no extractor stage needed).
    identity_network: str = "project"
    bvmr_width: int = 32  # BVMR's first encoder channels (its code's start_filters: 20.5 M parameters)
    # Stage full: start the fine network from --init_from's too (fine-tuning a trained generator, e.g.
    # the packaged one); off, as the paper: only the coarse network comes from stage 1.
    init_fine_network: bool = False


@dataclasses.dataclass
class DataConfig:
    source: str = "synth"  # "synth" (built-in faces) or a path
    faces: str = DEFAULT_RENDERER  # the built-in faces' renderer: "v2" (shaded, textured) or "v1" (flat, releases 1-2)
    synth_identities: int = 2000
    synth_images_per_identity: int = 24
    synth_eval_identities: int = 200
    holdout_every: int = 8  # every 8th image of an identity is held out for validation
    # Stage extractor_occ (ResNet-50-occ): the share of its training faces occluded by the
    # training occlusion synthesis (not given in the paper; half keeps clean faces well recognized).
    occlusion_augmentation: float = 0.5
    # The occluders the completion stages (and BVMR) train on: a probability per family,
    # "paper" = the paper's rectangles and words (Eq. 1) alone (`data.occluders.families`).
    occluders: str = "paper"
    # The share of clean training faces given natural photo texture before they are occluded
    # (`data.face_texture`): texture alone must not read as an occluder on real faces.
    face_texture: float = 0.0
    # A folder whose images are mostly not 112x112 (unaligned) is refused unless this is set.
    allow_unaligned: bool = False
    seed: int = 0


@dataclasses.dataclass
class StageLosses:
    coarse: LossWeights = dataclasses.field(default_factory=LossWeights.coarse_stage)
    full: LossWeights = dataclasses.field(default_factory=LossWeights)


@dataclasses.dataclass
class RuntimeConfig:
    strategy: str = "default"
    precision: str = "auto"  # c2fdan_tf.precision: auto, float32, mixed_bfloat16, mixed_float16
    jit_compile: bool = False
    backup_every_steps: int = 0  # 0: back up at the end of every epoch
    worker_timeout_seconds: int = 600  # multi_worker: how long a worker waits for the others to start


@dataclasses.dataclass
class Schedule:
    """One stage's schedule. `learning_rate` trains what is new in the stage (in stage
    full: the fine network); `pretrained_learning_rate` the coarse network brought
    from stage coarse; the rates are multiplied by `learning_rate_decay` after every
    epoch (1: constant)."""

    epochs: int
    learning_rate: float
    batch_size: int = 8
    steps_per_epoch: int = 0  # 0: one pass over the training data per epoch
    validation_steps: int = 20
    pretrained_learning_rate: float = 0.0
    discriminator_learning_rate: float = 0.0
    learning_rate_decay: float = 1.0
    beta_1: float = 0.9  # Adam


@dataclasses.dataclass
class StageSchedules:
    # A classifier wants larger batches than the GAN's 8; cosine decay over its steps.
    extractor: Schedule = dataclasses.field(default_factory=lambda: Schedule(epochs=20, learning_rate=1e-3,
                                                                             batch_size=64))
    coarse: Schedule = dataclasses.field(default_factory=lambda: Schedule(epochs=1, learning_rate=2e-4))
    # lr / 10 per epoch (Sec. IV-A); beta_1 0.5 [decision] for the GAN.
    full: Schedule = dataclasses.field(default_factory=lambda: Schedule(
        epochs=5, learning_rate=1e-4, pretrained_learning_rate=5e-5, discriminator_learning_rate=1e-4,
        learning_rate_decay=0.1, beta_1=0.5))
    # BVMR's code: Adam at 1e-3, batch 32; one pass over the data, as the coarse stage.
    bvmr: Schedule = dataclasses.field(default_factory=lambda: Schedule(epochs=1, learning_rate=1e-3,
                                                                        batch_size=32))
    # ResNet-50-occ: "another ResNet-50" (Sec. IV-B), the extractor's schedule.
    extractor_occ: Schedule = dataclasses.field(default_factory=lambda: Schedule(epochs=20, learning_rate=1e-3,
                                                                                 batch_size=64))


@dataclasses.dataclass
class TrainConfig:
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    losses: StageLosses = dataclasses.field(default_factory=StageLosses)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)
    schedule: StageSchedules = dataclasses.field(default_factory=StageSchedules)

    def schedule_of(self, stage):
        _check_stage(stage)
        return getattr(self.schedule, stage)

    def losses_of(self, stage):
        if stage not in GENERATOR_STAGES:
            raise ValueError(f"Stage {stage!r} has no generator losses; only coarse and full do.")
        return getattr(self.losses, stage)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data):
        """The config of `to_dict`; ValueError naming an unknown or missing section/field."""
        if isinstance(data.get("data"), dict) and "faces" not in data["data"]:
            data = {**data, "data": {**data["data"], "faces": "v1"}}  # written before renderer v2: v1's faces
        sections = {}
        for field in dataclasses.fields(cls):
            if field.name not in data:
                raise ValueError(f"the section {field.name!r} is missing")
            sections[field.name] = _build(field.default_factory().__class__, data[field.name], field.name)
        unknown = set(data) - set(sections)
        if unknown:
            raise ValueError(f"unknown section(s) {', '.join(sorted(unknown))}")
        return cls(**sections)


def _check_stage(stage):
    if stage not in STAGE_NAMES:
        raise ValueError(f"Unknown stage {stage!r}; choose from {', '.join(STAGE_NAMES)}.")


def _build(cls, data, where):
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))} in {where}")
    values = {}
    for name, value in data.items():
        factory = fields[name].default_factory
        default = None if factory is dataclasses.MISSING else factory()
        if dataclasses.is_dataclass(default):
            value = _build(type(default), value, f"{where}.{name}")
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return cls(**values)


def _small():
    """A CPU-sized run: narrow networks, a compact extractor, short epochs.

    Measured on synth (README, Results): a heavier mask term makes the short coarse stage
    find the occlusion (val mask IoU 0.76-0.80 after 1800 steps); Table I's row without the
    style loss (the paper's best recognition model) plus '*' (occluded L1 on I_f) lets the
    fine network overtake the coarse one in 900 steps, where the Gram loss of a width-16
    extractor dominated the generator loss and painted plaid textures. The cross-attention
    matches against every key patch, as the paper: excluding the partly masked ones
    (`exclude_partially_masked_keys`) changed nothing measurable (29.50 dB, SSIM 0.9276,
    IoU 0.829 with and without, 8,640 evaluation faces, same seed)."""
    return TrainConfig(
        # BVMR at width 8 has 1.29 M parameters, 5x the width-16 coarse network, as in the paper
        # (20.5 M vs 4.1 M).
        model=ModelConfig(width=16, discriminator_width=16, extractor_architecture="resnet_v2_small",
                          extractor_width=16, bvmr_width=8),
        # Half the paper's occluders, half the wild families (issue 29): the model is for the
        # occluders users meet, and Table I's case keeps half the batches. Half the clean faces
        # textured (`face_texture`): trained on the mix without it, the coarse network masked
        # 34 / 47 % of two clean real faces, with it 16 / 34 % (benchmarks/real_photo_occluders.py).
        data=DataConfig(synth_identities=200, synth_images_per_identity=16, synth_eval_identities=60,
                        occluders=WILD_MIX, face_texture=0.5),
        # Stage 1, 1800 steps, 60 held-out faces x 24 conditions (README, Learning curve): a Dice
        # term beside the BCE (mask_dice 3) makes the mask cover thin strokes (inside them 0.76 ->
        # 0.81) and a heavier occluded L1 (λ_occ 10) makes the net copy less of the occluder's
        # colour through its skips (text: 0.141 -> 0.125 of it): I_c,r 28.64 -> 29.30 dB, mask IoU
        # 0.780 -> 0.817, text left 0.375 -> 0.349. In stage 2 the paper's λ_occ 3 did as well as 10
        # (30.47 vs 30.50 dB, IoU 0.851 vs 0.847), so it stays.
        losses=StageLosses(
            coarse=dataclasses.replace(LossWeights.coarse_stage(), mask=10.0, mask_dice=3.0, occluded=10.0),
            full=LossWeights(style=0.0, occluded_on_fine=True, mask_dice=3.0),
        ),
        schedule=StageSchedules(
            extractor=Schedule(epochs=12, learning_rate=2e-3, batch_size=32, validation_steps=8),
            extractor_occ=Schedule(epochs=12, learning_rate=2e-3, batch_size=32, validation_steps=8),
            bvmr=Schedule(epochs=3, learning_rate=1e-3, steps_per_epoch=300, validation_steps=8),
            # 2,400 coarse steps (was 1,800), bought by the evaluation's 80 s saved: the stage has not
            # flattened (validation at 2,400 of the 2x run: 29.50 dB, IoU 0.843 vs 28.78, 0.792 at
            # 1,800). Its rate stays: a decay of 0.7 per epoch (28.47 dB, IoU 0.757 at 1,800) and
            # 2e-3 (26.67, 0.709 at 1,500 vs 28.52, 0.768) were both worse.
            coarse=Schedule(epochs=8, learning_rate=1e-3, steps_per_epoch=300, validation_steps=8),
            # The fine network learns from scratch in 900 steps: at 5e-4 (was 2e-4) its L1 inside the
            # mask ends below the coarse output's (0.256 vs 0.282; at 2e-4 0.274) and I_f,r beats I_c,r
            # by 0.46 dB (0.14); at 1e-3 the fine network diverges (val PSNR 17.7 dB).
            full=Schedule(epochs=3, learning_rate=5e-4, steps_per_epoch=300, validation_steps=8,
                          pretrained_learning_rate=1e-4, discriminator_learning_rate=2e-4,
                          learning_rate_decay=0.5, beta_1=0.5),
        ),
    )


def _release():
    """The packaged model's recipe (`release.py`, issue 31): the small preset trained ~6x longer
    in <= 150 minutes on a 2-core CPU. Each departure from `small`, with its reason:"""
    small = _small()
    return dataclasses.replace(
        small,
        # The identity losses by the extractor, as small: face-api.js' recognizer in its place gave the
        # same figures (900 full steps from one coarse checkpoint: 29.88 vs 29.92 dB, TPIR@1 0.217 vs
        # 0.220; README, The pretrained model) at 1.24x the step time.
        # Width 16 as small: at equal time on this machine width 24 was behind on every measure
        # (README, Width: 900 width-24 steps 26.74 dB / IoU 0.76 vs 1,800 width-16 ones 28.78 / 0.79),
        # and the width-16 curve had not flattened at 5,400 steps (README, Learning curve).
        # 1,000 identities (small: 200): 5x the faces for a model meant for faces it never saw
        # (16,000 faces rendered once, ~2 min at 124 faces/s, cached).
        data=dataclasses.replace(
            small.data, synth_identities=1000,
            # 9 % clean faces (nothing drawn, empty mask): the demo model masked 10-25 % of clean real
            # faces and 0.11 % of clean synthetic ones, and no training example had an empty mask.
            occluders=WILD_MIX + ",clean:0.1"),
        # A backup every 300 steps: an interrupted run (a session ending) loses at most ~1.5 minutes.
        runtime=dataclasses.replace(small.runtime, backup_every_steps=300),
        schedule=dataclasses.replace(
            small.schedule,
            # 4 passes over 5x the faces: 1,750 steps (small: 1,050 over 200 identities).
            extractor=dataclasses.replace(small.schedule.extractor, epochs=4),
            # 12,000 coarse steps (small: 2,400) at small's measured rate, x0.9 per 600-step epoch so the
            # rate settles (ends at 1.4e-4); 0.16 s a step in bfloat16 here: ~32 minutes.
            coarse=dataclasses.replace(small.schedule.coarse, epochs=20, steps_per_epoch=600, learning_rate_decay=0.9),
            # 10,800 full steps (small: 900), small's rates with a slower decay (x0.9 per 600 steps, ends at
            # 0.17x; small: x0.5 per 300 over 3 epochs); 0.47 s a step: ~85 minutes.
            full=dataclasses.replace(small.schedule.full, epochs=18, steps_per_epoch=600, learning_rate_decay=0.9),
        ),
    )


def _tiny():
    """Seconds per stage: for tests and smoke runs only."""
    def short(**rates):
        return Schedule(epochs=1, batch_size=2, steps_per_epoch=3, validation_steps=1, **rates)

    paper = StageSchedules()
    return TrainConfig(
        model=ModelConfig(width=4, discriminator_width=4, extractor_architecture="resnet_v2_small",
                          extractor_width=4, bvmr_width=2),
        runtime=RuntimeConfig(precision="float32"),  # smoke runs compute alike on every machine
        # The paper's occluders: each smoke run would otherwise build the wild families' sprite banks and
        # trace their graphs (the suite: +8 minutes); test_training trains the coarse and full stages on the mix.
        data=DataConfig(synth_identities=6, synth_images_per_identity=8, synth_eval_identities=4),
        schedule=StageSchedules(
            extractor=dataclasses.replace(short(learning_rate=paper.extractor.learning_rate), batch_size=4),
            extractor_occ=dataclasses.replace(short(learning_rate=paper.extractor.learning_rate), batch_size=4),
            bvmr=short(learning_rate=paper.bvmr.learning_rate),
            coarse=short(learning_rate=paper.coarse.learning_rate),
            full=dataclasses.replace(paper.full, epochs=1, batch_size=2, steps_per_epoch=3, validation_steps=1),
        ),
    )


PRESETS = {
    # The paper's recipe (Sec. IV-A): width 64, batch 8, ResNet50-v2 extractor for 20
    # epochs, coarse stage 1 epoch at 2e-4, full stage 5 epochs with lr / 10 per epoch.
    "paper": TrainConfig,
    "small": _small,
    "release": _release,
    "tiny": _tiny,
}


def preset(name):
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose from {', '.join(sorted(PRESETS))}.")
    return PRESETS[name]()


# Command-line flag -> where it lands. "stage." fields go to the schedule (or, for
# "losses.", the loss weights) of the stage being trained.
FLAG_FIELDS = {
    "data": "data.source",
    "seed": "data.seed",
    "faces": "data.faces",
    "width": "model.width",
    "attention": "model.attention",
    "cross_attention_mode": "model.cross_attention_mode",
    "exclude_partially_masked_keys": "model.exclude_partially_masked_keys",
    "identity_network": "model.identity_network",
    "bvmr_width": "model.bvmr_width",
    "init_fine_network": "model.init_fine_network",
    "occlusion_augmentation": "data.occlusion_augmentation",
    "occluders": "data.occluders",
    "face_texture": "data.face_texture",
    "allow_unaligned": "data.allow_unaligned",
    "strategy": "runtime.strategy",
    "precision": "runtime.precision",
    "jit_compile": "runtime.jit_compile",
    "backup_every_steps": "runtime.backup_every_steps",
    "worker_timeout": "runtime.worker_timeout_seconds",
    "batch_size": "schedule.STAGE.batch_size",
    "epochs": "schedule.STAGE.epochs",
    "steps_per_epoch": "schedule.STAGE.steps_per_epoch",
    "learning_rate": "schedule.STAGE.learning_rate",
    "pretrained_learning_rate": "schedule.STAGE.pretrained_learning_rate",
    "discriminator_learning_rate": "schedule.STAGE.discriminator_learning_rate",
    "learning_rate_decay": "schedule.STAGE.learning_rate_decay",
    "mask_weight": "losses.STAGE.mask",
    "mask_dice_weight": "losses.STAGE.mask_dice",
    "occluded_weight": "losses.STAGE.occluded",
    "non_occluded_weight": "losses.STAGE.non_occluded",
    "perceptual_weight": "losses.STAGE.perceptual",
    "style_weight": "losses.STAGE.style",
    "adversarial_weight": "losses.STAGE.adversarial",
    "occluded_on_fine": "losses.STAGE.occluded_on_fine",
}


def replace_path(config, path, value):
    """A copy of `config` with the dotted field `path` ("schedule.full.epochs") set."""
    head, _, rest = path.partition(".")
    if not any(f.name == head for f in dataclasses.fields(config)):
        raise ValueError(f"Unknown config field {path!r}.")
    if not rest:
        return dataclasses.replace(config, **{head: value})
    return dataclasses.replace(config, **{head: replace_path(getattr(config, head), rest, value)})


def resolve_config(preset_name, stage, overrides):
    """The preset with flag overrides ({flag name: value}; None = not given) for `stage`.

    Schedule flags (epochs, learning rates, batch size, steps) and loss weights apply to
    the stage being trained; loss weights are refused for the other stages (the extractors and
    BVMR have their own fixed losses)."""
    _check_stage(stage)
    config = preset(preset_name)
    for flag, value in overrides.items():
        if value is None:
            continue
        if flag not in FLAG_FIELDS:
            raise ValueError(f"Unknown override --{flag}.")
        path = FLAG_FIELDS[flag]
        if path.startswith("losses.") and stage not in GENERATOR_STAGES:
            raise ValueError(f"--{flag} is a loss weight of the coarse and full stages, not of the {stage} stage.")
        if flag == "learning_rate_decay" and stage not in GENERATOR_STAGES:
            raise ValueError(f"--{flag} steps the coarse and full stages' rates; the {stage} stage has its own "
                             "schedule (extractors: cosine decay, BVMR: constant).")
        config = replace_path(config, path.replace("STAGE", stage), value)
    parse_mix(config.data.occluders)  # a wrong family or weight: one line, before any work
    renderer(config.data.faces)  # an unknown renderer: one line naming the choices
    if not 0.0 <= config.data.face_texture <= 1.0:
        raise ValueError(f"--face_texture is a probability in [0, 1], not {config.data.face_texture}.")
    return config


def _from_first_release(flat):
    """The nested config of a first-release `config.json` (one flat mapping); fields it
    lacks take this version's defaults."""
    def schedule(stage, **fields):
        given = {key: value for key, value in fields.items() if value is not None}
        return {**dataclasses.asdict(getattr(StageSchedules(), stage)), **given}

    weights = {name: flat.get(f"{name}_weight") for name in
               ("mask", "occluded", "non_occluded", "perceptual", "style", "adversarial")}
    full_losses = {k: v for k, v in weights.items() if v is not None}
    if "occluded_on_fine" in flat:
        full_losses["occluded_on_fine"] = flat["occluded_on_fine"]
    coarse_losses = dataclasses.asdict(LossWeights.coarse_stage())
    if "coarse_mask_weight" in flat:
        coarse_losses["mask"] = flat["coarse_mask_weight"]
    model_keys = [f.name for f in dataclasses.fields(ModelConfig)]
    data_keys = [f.name for f in dataclasses.fields(DataConfig) if f.name != "source"]
    runtime_keys = [f.name for f in dataclasses.fields(RuntimeConfig) if f.name != "precision"]
    get = flat.get
    precision = "mixed_float16" if get("mixed_precision") else "float32"
    return {
        "model": {k: flat[k] for k in model_keys if k in flat},
        "data": {"source": get("data", "synth"), **{k: flat[k] for k in data_keys if k in flat}},
        "losses": {"coarse": coarse_losses, "full": dataclasses.asdict(LossWeights(**full_losses))},
        "runtime": {"precision": precision, **{k: flat[k] for k in runtime_keys if k in flat}},
        "schedule": {
            "extractor": schedule("extractor", epochs=get("extractor_epochs"), learning_rate=get(
                "extractor_learning_rate"), batch_size=get("extractor_batch_size"), steps_per_epoch=get(
                "extractor_steps_per_epoch"), validation_steps=get("validation_steps")),
            "coarse": schedule("coarse", epochs=get("coarse_epochs"), learning_rate=get("coarse_learning_rate"),
                               batch_size=get("batch_size"), steps_per_epoch=get("steps_per_epoch"),
                               validation_steps=get("validation_steps")),
            "full": schedule("full", epochs=get("full_epochs"), learning_rate=get("learning_rate"),
                             batch_size=get("batch_size"), steps_per_epoch=get("steps_per_epoch"),
                             validation_steps=get("validation_steps"),
                             pretrained_learning_rate=get("pretrained_learning_rate"),
                             discriminator_learning_rate=get("discriminator_learning_rate"),
                             learning_rate_decay=get("learning_rate_decay"), beta_1=get("gan_beta_1")),
        },
    }


def load_config(path):
    """The TrainConfig a stage wrote to `path` (this version's nested file, or the first
    release's flat one); ValueError with a one-line reason otherwise."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} cannot be read as a training config: {error}") from None
    try:
        if isinstance(data, dict) and "model" not in data and "width" in data:
            data = _from_first_release(data)
        return TrainConfig.from_dict(data)
    except (TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"{path} is not a training config this version can read ({error}); train the "
                         "stage again with the same command and --restart.") from None
