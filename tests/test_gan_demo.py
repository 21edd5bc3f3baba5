"""The glyph GAN tab's functions (grid, morph, nearest real glyphs) with bad input refused on the server, and
both glyph tabs over real HTTP when their weights are shipped."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO_ROOT
from models.gan import GanConfig, GanGenerator
from plugins.errors import UnusableInputError
from plugins.font_gan.demo import MAX_GRID, generate_grid, interpolation_strip, nearest_pairs, slerp
from plugins.font_gan.presets import PRESETS


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return GanGenerator(GanConfig(**PRESETS["best"].model)).eval()


def test_grid_is_reproducible_and_sized_by_count(generator):
    first = generate_grid(generator, 9, 3)
    assert first.size == generate_grid(generator, "9", 3.0).size  # the API may send numbers as text or floats
    assert np.array_equal(np.asarray(first), np.asarray(generate_grid(generator, 9, 3)))
    assert not np.array_equal(np.asarray(first), np.asarray(generate_grid(generator, 9, 4)))
    # 3 x 3 tiles of 48 px enlarged twice, 2 px apart
    assert first.size == (3 * 98 + 2, 3 * 98 + 2)


@pytest.mark.parametrize(("count", "seed"), [(0, 0), (MAX_GRID + 1, 0), (float("nan"), 0), (4, -1), (4, 2**40),
                                             (4, "x"), (2.5, 0), (None, 0), (10**12, 0)])
def test_unusable_grid_settings_are_refused(generator, count, seed):
    with pytest.raises(UnusableInputError):
        generate_grid(generator, count, seed)


def test_slerp_ends_at_both_seeds_and_keeps_the_norm():
    start, end = torch.randn(128, generator=torch.Generator().manual_seed(0)), torch.randn(128)
    assert torch.allclose(slerp(start, end, 0.0), start, atol=1e-5)
    assert torch.allclose(slerp(start, end, 1.0), end, atol=1e-5)
    middle = slerp(start, end, 0.5)
    assert middle.norm() > 0.9 * min(start.norm(), end.norm())  # a straight line would shrink it by ~1/sqrt(2)


def test_interpolation_strip_runs_from_seed_a_to_seed_b(generator):
    strip = interpolation_strip(generator, 5, 6, steps=4, scale=1)
    assert strip.size == (4 * 50 + 2, 50 + 2)
    pixels = np.asarray(strip, dtype=np.float32) / 255
    first_a = generator.generate(1, seed=5)[0].numpy()
    assert np.abs(pixels[2:50, 2:50] - first_a).max() < 1 / 255 + 1e-6
    with pytest.raises(UnusableInputError):
        interpolation_strip(generator, 5, 6, steps=1000)


def test_nearest_pairs_finds_an_exact_copy(generator):
    copies = torch.from_numpy(1 - 2 * generator.generate(4, seed=11).numpy())[:, None]  # images in [-1, 1]
    real = torch.cat([-torch.ones(20, 1, 48, 48), copies])
    labels = tuple(f"{index} font" for index in range(len(real)))
    picture = nearest_pairs(generator, real, labels, count=4, seed=11, scale=1)
    assert isinstance(picture, Image.Image)
    from plugins.font_gan import quality

    nearest, distances = quality.nearest_real(quality.generate_images(generator, 4, 11), real)
    assert nearest.tolist() == [20, 21, 22, 23] and distances.max() < 1e-3


SHIPPED_GAN = REPO_ROOT / "pretrained" / "font-gan" / "config.json"
SHIPPED_STYLE = REPO_ROOT / "pretrained" / "font-style-cnn" / "config.json"


@pytest.fixture(scope="module")
def client(hub):
    from gradio_client import Client

    return Client(hub.url, verbose=False)


@pytest.mark.skipif(not SHIPPED_GAN.is_file(), reason="no shipped font-gan weights")
def test_generate_api_over_http_with_defaults_and_refusals(client):
    from gradio_client.exceptions import AppError

    grid = Image.open(client.predict(api_name="/font_gan_generate"))  # every input has a default
    assert grid.size[0] > 300
    again = Image.open(client.predict("Kai (best)", 4, 7, api_name="/font_gan_generate"))
    assert np.array_equal(np.asarray(again), np.asarray(Image.open(client.predict("Kai (best)", 4, 7,
                                                                                  api_name="/font_gan_generate"))))
    # Gradio checks a slider's or number's bounds on the server before our own checks (NaN cannot even be
    # sent as JSON; `bounded_number` refuses it in tests/test_ui.py); either way the caller gets a message.
    for arguments, message in (((10**9, 0), "Number of glyphs|maximum value 100"), ((4, -5), "Seed|minimum value 0"),
                               ((0, 0), "Number of glyphs|minimum value 1")):
        with pytest.raises(AppError, match=message):
            client.predict("Kai (best)", *arguments, api_name="/font_gan_generate")
    with pytest.raises(AppError, match="Unknown model|choices"):
        client.predict("no such model", 4, 0, api_name="/font_gan_generate")
    strip = Image.open(client.predict("Kai (best)", 1, 2, 6, api_name="/font_gan_interpolate"))
    assert strip.size[0] > 5 * strip.size[1]


@pytest.mark.skipif(not SHIPPED_STYLE.is_file(), reason="no shipped font-style-cnn weights")
def test_style_classify_api_over_http(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from plugins.glyphs import GlyphRenderer, resolve_font

    try:
        glyph = GlyphRenderer(resolve_font("ming")).render("國")
    except Exception:  # noqa: BLE001 - no Ming font on this machine
        pytest.skip("fonts-arphic-uming is not installed")
    path = tmp_path / "ming.png"
    Image.fromarray(255 - glyph).resize((192, 192), Image.Resampling.BICUBIC).save(path)  # black on white, enlarged
    answer = client.predict(handle_file(str(path)), api_name="/font_style_classify")
    assert answer["label"] == "ming"
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    with pytest.raises(AppError, match="blank"):
        client.predict(handle_file(str(blank)), api_name="/font_style_classify")
    assert client.predict(handle_file(str(path)), api_name="/font_style_classify")["label"] == "ming"
