"""The GAN family: the lecture's two Keras models layer by layer, Keras defaults, generate(), the config's checks."""

import copy
import math

import pytest
import torch
from torch import nn

from conftest import REPO_ROOT
from models.gan import GanConfig, GanDiscriminator, GanGenerator
from plugins.font_gan.fast_generator import (BFLOAT16_MAX_DIFFERENCE, convolve_to_an_image, install_fast_generator,
                                             install_serving_generator, serve_in_bfloat16_if_faster,
                                             upsample_and_convolve)
from plugins.font_gan.presets import PRESETS


def build(preset: str):
    config = GanConfig(**PRESETS[preset].model)
    return GanGenerator(config), GanDiscriminator(config)


def trainable(module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def keras_total(module) -> int:
    """Keras' "Total params" also counts batch norm's moving mean and variance (non-trainable)."""
    moving = sum(buffer.numel() for name, buffer in module.named_buffers() if name.endswith(("running_mean", "running_var")))
    return trainable(module) + moving


def output_shapes(model, layer_types, inputs) -> list[tuple[int, ...]]:
    shapes = []
    hooks = [layer.register_forward_hook(lambda _m, _i, output: shapes.append(tuple(output.shape[1:])))
             for layer in model.modules() if isinstance(layer, layer_types)]
    model.eval()
    with torch.no_grad():
        model(inputs)
    for hook in hooks:
        hook.remove()
    return shapes


def test_lecture_07_matches_the_keras_mlp_gan():
    generator, discriminator = build("lecture-07")
    # Keras summary: Dense(256) 33,024, BN 1,024, Dense(512) 131,584, BN 2,048, Dense(1024) 525,312, BN 4,096,
    # Dense(2304) 2,361,600 -> 3,058,688 total (3,055,104 trainable); D: 1,180,160 + 131,328 + 257 = 1,311,745.
    assert keras_total(generator) == 3_058_688 and trainable(generator) == 3_055_104
    assert keras_total(discriminator) == trainable(discriminator) == 1_311_745
    assert output_shapes(generator, nn.Linear, torch.randn(2, 128)) == [(256,), (512,), (1024,), (2304,)]
    assert output_shapes(discriminator, nn.Linear, torch.randn(2, 1, 48, 48)) == [(512,), (256,), (1,)]
    # Keras order in each block: Dense, LeakyReLU, BatchNormalization.
    block = generator.blocks[0]
    assert block.norm_after_activation and isinstance(block.activation, nn.LeakyReLU)
    assert generator(torch.randn(3, 128)).images.shape == (3, 1, 48, 48)


def test_lecture_08_matches_the_keras_dcgan():
    generator, discriminator = build("lecture-08")
    # G: Dense(12544) 1,618,176, Conv 36,928, BN 256, Conv 36,928, BN 256, Conv(1) 577 = 1,693,121 (256 moving).
    assert keras_total(generator) == 1_693_121 and trainable(generator) == 1_692_865
    # D: Conv(32,6) 1,184, Conv(64,4) 32,832, BN 256, Conv(128,4) 131,200, BN 512, Dense 6,273 = 172,257.
    assert keras_total(discriminator) == 172_257 and trainable(discriminator) == 171_873
    # valid padding: 14 -up-> 28 -conv-> 26 -up-> 52 -conv-> 50 -conv-> 48.
    assert output_shapes(generator, (nn.Upsample, nn.Conv2d), torch.randn(2, 128)) == [
        (64, 28, 28), (64, 26, 26), (64, 52, 52), (64, 50, 50), (1, 48, 48)]
    # 48 -conv6/2-> 22 -conv4/2-> 10 -conv4/1-> 7, then dense on 7*7*128.
    assert output_shapes(discriminator, nn.Conv2d, torch.randn(2, 1, 48, 48)) == [(32, 22, 22), (64, 10, 10), (128, 7, 7)]
    assert discriminator.classifier.in_features == 6272


@pytest.mark.parametrize("preset", ["lecture-07", "lecture-08"])
def test_keras_2_defaults(preset):
    generator, discriminator = build(preset)
    slopes = {module.negative_slope for module in discriminator.modules() if isinstance(module, nn.LeakyReLU)}
    assert slopes == {0.3}
    for norm in (module for module in generator.modules() if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d))):
        assert norm.momentum == pytest.approx(0.01) and norm.eps == pytest.approx(1e-3)
    for layer in (module for module in [*generator.modules(), *discriminator.modules()]
                  if isinstance(module, (nn.Linear, nn.Conv2d))):
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = math.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
        assert not layer.bias.any()


def test_generate_is_reproducible_with_a_seed_and_leaves_the_global_rng_alone():
    generator, _ = build("best")
    state = torch.get_rng_state()
    first = generator.generate(6, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    assert first.shape == (6, 48, 48) and first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, generator.generate(6, seed=7))
    assert not torch.equal(first, generator.generate(6, seed=8))
    assert torch.allclose(generator.generate(3, seed=7), first[:3], atol=1e-5)  # the first images do not depend on n
    assert generator.training, "generate() restores the training mode"
    latents = generator.sample_latents(2, seed=7)
    assert torch.allclose(generator.generate(latents=latents), first[:2], atol=1e-5)
    with pytest.raises(ValueError):
        generator.generate(0)
    with pytest.raises(ValueError):
        generator.generate(latents=torch.zeros(2, 5))


def test_generate_returns_black_ink_on_white():
    generator, _ = build("lecture-08")
    with torch.no_grad():
        for parameter in generator.output_layer.parameters():
            parameter.zero_()
        generator.output_layer.bias.fill_(-10.0)  # the raw output says "paper" (-1) everywhere
    assert torch.allclose(generator.generate(2, seed=0), torch.ones(2, 48, 48), atol=1e-6)


def test_config_checks():
    with pytest.raises(ValueError, match="architecture"):
        GanConfig(architecture="transformer")
    with pytest.raises(ValueError, match=r"makes 44x44 images, not 48x48"):
        GanConfig(**{**PRESETS["lecture-08"].model, "generator_start_size": 13})
    with pytest.raises(ValueError, match="one entry per convolution"):
        GanConfig(**{**PRESETS["lecture-08"].model, "discriminator_strides": [2, 2]})
    with pytest.raises(ValueError, match="leaky_relu_slope"):
        GanConfig(leaky_relu_slope=-0.1)


def test_saved_generator_loads_with_the_auto_class(tmp_path):
    from transformers import AutoModel

    generator, _ = build("best")
    generator.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, GanGenerator)
    assert torch.equal(loaded.generate(2, seed=1), generator.generate(2, seed=1))


@pytest.mark.parametrize("kernel_size,padding", [(3, 0), (3, 1), (1, 0), (4, 1), (5, 2), (2, 2)],
                         ids=["lecture-valid", "best-same", "1x1", "even-kernel", "5x5-same", "fallback"])
def test_upsampling_then_convolving_is_computed_as_one_transposed_convolution(kernel_size, padding):
    convolution = nn.Conv2d(3, 4, kernel_size, padding=padding).double()
    hidden_state = torch.randn(2, 3, 7, 7, dtype=torch.double, requires_grad=True)
    expected = convolution(nn.functional.interpolate(hidden_state, scale_factor=2, mode="nearest"))
    computed = upsample_and_convolve(hidden_state, convolution)
    assert computed.shape == expected.shape
    torch.testing.assert_close(computed, expected)
    upstream = torch.randn_like(expected)
    inputs = [hidden_state, convolution.weight, convolution.bias]
    for got, want in zip(torch.autograd.grad(computed, inputs, upstream), torch.autograd.grad(expected, inputs, upstream)):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("out_channels,kernel_size,padding", [(1, 3, 0), (1, 3, 1), (3, 5, 2), (8, 3, 1)],
                         ids=["lecture-valid", "best-same", "rgb", "many-channels-plain"])
def test_the_last_convolution_to_an_image_equals_the_convolution(out_channels, kernel_size, padding):
    convolution = nn.Conv2d(6, out_channels, kernel_size, padding=padding).double()
    hidden_state = torch.randn(2, 6, 9, 9, dtype=torch.double, requires_grad=True)
    expected, computed = convolution(hidden_state), convolve_to_an_image(hidden_state, convolution)
    torch.testing.assert_close(computed, expected)
    upstream = torch.randn_like(expected)
    inputs = [hidden_state, convolution.weight, convolution.bias]
    for got, want in zip(torch.autograd.grad(computed, inputs, upstream), torch.autograd.grad(expected, inputs, upstream)):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("preset", ["lecture-07", "lecture-08", "best"])
def test_the_fast_generator_draws_what_the_plain_model_file_draws_with_the_same_weights(preset, tmp_path):
    plain, _ = build(preset)
    plain = plain.double().eval()
    fast = install_fast_generator(copy.deepcopy(plain))
    latents = torch.randn(3, plain.config.latent_size, dtype=torch.double)
    torch.testing.assert_close(fast(latents).images, plain(latents).images)
    assert fast.state_dict().keys() == plain.state_dict().keys()  # checkpoints and save_pretrained unchanged
    fast.save_pretrained(tmp_path)
    assert "fast_generator" not in (tmp_path / "config.json").read_text()
    reloaded = GanGenerator.from_pretrained(tmp_path, dtype=torch.float64).eval()
    torch.testing.assert_close(reloaded(latents).images, plain(latents).images)


@pytest.mark.parametrize("preset", ["lecture-08", "best"])
def test_the_served_generator_folds_batch_norm_and_still_draws_what_the_plain_model_draws(preset):
    plain, _ = build(preset)
    plain = plain.double()
    with torch.no_grad():  # batch norms with statistics of their own, not the initial 0 and 1
        for module in plain.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5), module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5), module.bias.uniform_(-0.2, 0.2)
    plain.eval()
    served = install_serving_generator(copy.deepcopy(plain))
    latents = torch.randn(3, plain.config.latent_size, dtype=torch.double)
    with torch.no_grad():
        torch.testing.assert_close(served(latents).images, plain(latents).images)
        assert served.state_dict().keys() == plain.state_dict().keys()
        # folded where a block normalises before its activation (the Keras order of lecture-08 is left as it is)
        assert (served._serving[1] is not None) == (not plain.config.generator_norm_after_activation)
        for model in (plain, served):  # new weights (as from a checkpoint): the folded kernels follow them
            model.blocks[0].normalization.running_var.mul_(3.0)
            model.blocks[-1].layer.weight.mul_(0.5)
        torch.testing.assert_close(served(latents).images, plain(latents).images)
        torch.testing.assert_close(served.generate(latents=latents), plain.generate(latents=latents))
    served.train(), plain.train()  # training takes the ordinary forward: batch statistics and gradients
    torch.manual_seed(0)
    torch.testing.assert_close(served(latents).images, plain(latents).images)
    served(latents).images.sum().backward()
    assert served.blocks[0].layer.weight.grad is not None


def test_the_demo_serves_bfloat16_only_when_measured_faster_and_its_pictures_stay_close():
    """Whichever precision this CPU gets, the demo's pictures stay within the stated bound of float32's; a
    generator forced to bfloat16 (what a CPU with native bfloat16 chooses) draws the same glyphs."""
    generator = install_serving_generator(GanGenerator.from_pretrained(REPO_ROOT / "pretrained" / "font-gan").eval())
    with torch.no_grad():
        float32 = generator.generate(36, seed=5)
        chosen = serve_in_bfloat16_if_faster(generator)
        assert generator._serving_dtype == (torch.bfloat16 if chosen else torch.float32)
        served = generator.generate(36, seed=5)
        generator._serving_dtype = torch.bfloat16
        bfloat16 = generator.generate(36, seed=5)
    for pictures in (served, bfloat16):
        assert pictures.dtype == torch.float32 and pictures.shape == float32.shape
        assert float((pictures - float32).abs().max()) <= BFLOAT16_MAX_DIFFERENCE / 2  # pictures are on [0, 1]
        assert float((pictures - float32).abs().mean()) < 1 / 255
    assert "_serving" not in " ".join(generator.state_dict())


def test_channels_last_generators_stay_channels_last_through_the_transposed_convolutions():
    generator, _ = build("lecture-08")
    install_fast_generator(generator)
    generator = generator.to(memory_format=torch.channels_last)
    maps = []
    hooks = [block.register_forward_hook(lambda _m, _i, output: maps.append(output)) for block in generator.blocks]
    generator(torch.randn(2, 128))
    for hook in hooks:
        hook.remove()
    assert all(hidden_state.is_contiguous(memory_format=torch.channels_last) for hidden_state in maps)
