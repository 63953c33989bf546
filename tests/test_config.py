"""Training configuration: presets, flag resolution per stage, config files old and new,
the stage object and the network factory."""

import dataclasses
import json

import pytest

from c2fdan_tf.losses import LossWeights
from c2fdan_tf.training.config import StageLosses, TrainConfig, load_config, preset, resolve_config
from c2fdan_tf.training.networks import build_network
from c2fdan_tf.training.stage import GeneratorStage

# The `small` preset as the first release wrote it into config.json (a flat mapping).
FIRST_RELEASE_SMALL = {
    "adversarial_weight": 1.0, "attention": "both", "backup_every_steps": 0, "batch_size": 8,
    "coarse_epochs": 6, "coarse_learning_rate": 0.001, "coarse_mask_weight": 10.0, "cross_attention_mode": "hard",
    "data": "synth", "discriminator_learning_rate": 0.0002, "discriminator_width": 16,
    "extractor_architecture": "resnet_v2_small", "extractor_batch_size": 32, "extractor_blocks": [1, 1, 1, 1],
    "extractor_epochs": 12, "extractor_learning_rate": 0.002, "extractor_steps_per_epoch": 0,
    "extractor_width": 16, "full_epochs": 3, "gan_beta_1": 0.5, "holdout_every": 8, "jit_compile": False,
    "learning_rate": 0.0002, "learning_rate_decay": 0.5, "mask_weight": 10.0, "mixed_precision": False,
    "non_occluded_weight": 1.0, "occluded_on_fine": True, "occluded_weight": 3.0, "perceptual_weight": 0.1,
    "pretrained_learning_rate": 0.0001, "seed": 0, "steps_per_epoch": 300, "strategy": "default",
    "style_weight": 0.0, "synth_eval_identities": 60, "synth_identities": 200, "synth_images_per_identity": 16,
    "validation_steps": 8, "width": 16,
}


def test_first_release_config_loads_as_the_same_recipe(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(FIRST_RELEASE_SMALL))
    small = preset("small")  # the first release computed in float32 unless --mixed_precision
    # The baseline stages came later: what the first release lacked takes this version's defaults.
    # Its loss weights, coarse steps and fine-network rate are its own (this release's small preset
    # tuned them).
    defaults = TrainConfig()
    expected = dataclasses.replace(
        small, runtime=dataclasses.replace(small.runtime, precision="float32"),
        model=dataclasses.replace(small.model, bvmr_width=defaults.model.bvmr_width),
        # It trained on the paper's occluders alone, on untextured v1 faces (all came in the third release).
        data=dataclasses.replace(small.data, occlusion_augmentation=defaults.data.occlusion_augmentation,
                                 occluders="paper", face_texture=0.0, faces="v1"),
        losses=StageLosses(coarse=LossWeights(mask=10.0, occluded=3.0, non_occluded=1.0, perceptual=0.0, style=0.0,
                                              adversarial=0.0),
                           full=LossWeights(mask=10.0, occluded=3.0, style=0.0, occluded_on_fine=True)),
        schedule=dataclasses.replace(small.schedule, bvmr=defaults.schedule.bvmr,
                                     extractor_occ=defaults.schedule.extractor_occ,
                                     coarse=dataclasses.replace(small.schedule.coarse, epochs=6),
                                     full=dataclasses.replace(small.schedule.full, learning_rate=2e-4)))
    assert load_config(path) == expected
    path.write_text(json.dumps(dict(FIRST_RELEASE_SMALL, mixed_precision=True)))
    assert load_config(path).runtime.precision == "mixed_float16"


def test_config_round_trips_through_its_file(tmp_path):
    for name in ("paper", "small", "tiny"):
        path = tmp_path / f"{name}.json"
        path.write_text(preset(name).to_json())
        assert load_config(path) == preset(name)


def test_unreadable_configs_give_one_line_errors(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"model": {"depth": 3}}))
    with pytest.raises(ValueError, match=r"depth.*--restart") as error:
        load_config(tmp_path / "bad.json")
    assert "\n" not in str(error.value)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read"):
        load_config(tmp_path / "broken.json")


def test_flags_land_in_the_schedule_and_losses_of_the_stage_being_trained():
    flags = {"epochs": 7, "learning_rate": 3e-3, "mask_weight": 2.0, "width": 8, "seed": 5, "batch_size": None}
    coarse = resolve_config("small", "coarse", flags)
    assert coarse.schedule.coarse.epochs == 7 and coarse.schedule.coarse.learning_rate == 3e-3
    assert coarse.losses.coarse.mask == 2.0 and coarse.losses.full.mask == 10.0
    assert coarse.schedule.full == preset("small").schedule.full  # the other stages keep the preset
    assert coarse.model.width == 8 and coarse.data.seed == 5
    assert coarse.schedule.coarse.batch_size == 8  # None = not given
    full = resolve_config("paper", "full", {"style_weight": 0.0, "pretrained_learning_rate": 1e-5})
    assert full.losses.full.style == 0.0 and full.schedule.full.pretrained_learning_rate == 1e-5
    decayed = resolve_config("small", "coarse", {"learning_rate_decay": 0.5})
    assert preset("small").schedule.coarse.learning_rate_decay == 1.0  # the flag is what changed it
    assert decayed.schedule.coarse.learning_rate_decay == 0.5 and decayed.schedule.full == preset("small").schedule.full
    with pytest.raises(ValueError, match="the bvmr stage has its own schedule"):
        resolve_config("small", "bvmr", {"learning_rate_decay": 0.5})
    with pytest.raises(ValueError, match="not of the extractor stage"):
        resolve_config("small", "extractor", {"mask_weight": 1.0})
    with pytest.raises(ValueError, match="not of the bvmr stage"):  # BVMR has its own fixed loss
        resolve_config("small", "bvmr", {"occluded_weight": 1.0})
    bvmr = resolve_config("small", "bvmr", {"epochs": 2, "learning_rate": 5e-4, "bvmr_width": 16})
    assert bvmr.schedule.bvmr.epochs == 2 and bvmr.schedule.bvmr.learning_rate == 5e-4
    assert bvmr.model.bvmr_width == 16 and bvmr.schedule.coarse == preset("small").schedule.coarse
    occ = resolve_config("small", "extractor_occ", {"epochs": 3, "occlusion_augmentation": 0.25})
    assert occ.schedule.extractor_occ.epochs == 3 and occ.data.occlusion_augmentation == 0.25
    assert occ.schedule.extractor == preset("small").schedule.extractor
    with pytest.raises(ValueError, match="Unknown preset 'huge'"):
        resolve_config("huge", "coarse", {})
    with pytest.raises(ValueError, match="Unknown stage"):
        resolve_config("small", "fine", {})


def test_the_stage_decides_what_trains_and_what_is_needed():
    coarse = GeneratorStage.named("coarse")
    assert coarse.losses == LossWeights(mask=1.0, perceptual=0.0, style=0.0, adversarial=0.0)  # Sec. IV-A step 1
    assert not (coarse.needs_discriminators or coarse.needs_extractor or coarse.needs_coarse_checkpoint)
    assert coarse.completed_key == "coarse_completed"
    full = GeneratorStage.named("full")
    assert full.needs_discriminators and full.needs_extractor and full.completed_key == "completed"
    pixel_only = GeneratorStage("full", LossWeights(perceptual=0.0, style=0.0, adversarial=0.0))
    assert not (pixel_only.needs_discriminators or pixel_only.needs_extractor)
    generator = build_network("generator", preset("tiny").model)
    groups = full.variable_groups(generator)
    assert list(groups) == ["pretrained", "generator"]
    assert len(groups["pretrained"]) + len(groups["generator"]) == len(generator.trainable_variables)
    assert coarse.variable_groups(generator)["generator"] == generator.coarse_network.trainable_variables
    with pytest.raises(ValueError, match="pixel-wise losses only"):
        GeneratorStage("coarse", LossWeights())


def test_the_network_factory_builds_by_name_and_refuses_unknown_names():
    model = preset("tiny").model
    assert build_network("discriminators", model).count_params() > 0
    assert build_network("extractor", model, num_identities=3)(
        __import__("numpy").zeros((1, 112, 112, 3), "float32"))["logits"].shape == (1, 3)
    with pytest.raises(ValueError, match="Unknown network 'critic'"):
        build_network("critic", model)
    with pytest.raises(ValueError, match="attention"):
        import dataclasses

        build_network("generator", dataclasses.replace(model, attention="global"))


def test_the_renderer_flag_is_checked_and_a_config_from_before_v2_says_v1(tmp_path):
    assert preset("small").data.faces == "v2"
    assert resolve_config("small", "coarse", {"faces": "v1"}).data.faces == "v1"
    with pytest.raises(ValueError, match="Unknown face renderer 'cartoon'; choose from v1, v2"):
        resolve_config("small", "coarse", {"faces": "cartoon"})
    written = preset("tiny").to_dict()
    del written["data"]["faces"]  # a stage's config.json of the releases before renderer v2
    (tmp_path / "config.json").write_text(json.dumps(written))
    assert load_config(tmp_path / "config.json").data.faces == "v1"


def test_init_fine_network_starts_the_whole_generator_from_the_checkpoint(tmp_path):
    """Fine-tuning a trained generator (the packaged one): with --init_fine_network stage full starts
    both networks from --init_from; without it only the coarse one (the paper's stage 2)."""
    import keras
    import numpy as np

    from c2fdan_tf.models import Generator
    from c2fdan_tf.models.checkpoints import CheckpointError
    from c2fdan_tf.training.networks import stage_networks

    keras.utils.set_random_seed(5)
    trained = Generator(width=4)
    trained(np.zeros((1, 112, 112, 3), np.float32))
    trained.save(tmp_path / "trained.keras")
    stage = GeneratorStage("full", LossWeights(perceptual=0.0, style=0.0))
    for whole in (False, True):
        config = resolve_config("tiny", "full", {"init_fine_network": whole})
        assert config.model.init_fine_network is whole
        generator, _, _ = stage_networks(stage, config.model, tmp_path / "trained.keras")
        for a, b in zip(generator.coarse_network.get_weights(), trained.coarse_network.get_weights()):
            np.testing.assert_array_equal(a, b)
        same_fine = [np.array_equal(a, b) for a, b in zip(generator.fine_network.get_weights(),
                                                           trained.fine_network.get_weights())]
        assert all(same_fine) if whole else not all(same_fine)
    Generator(width=4, attention="self").save(tmp_path / "other.keras")
    config = resolve_config("tiny", "full", {"init_fine_network": True})
    with pytest.raises(CheckpointError, match="--init_fine_network needs a whole generator like this run's"):
        stage_networks(stage, config.model, tmp_path / "other.keras")
