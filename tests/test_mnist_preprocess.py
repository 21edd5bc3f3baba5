"""Preparing drawings and photos like MNIST, and refusing what cannot be a digit."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageDraw

from conftest import REPO_ROOT
from plugins.errors import UnusableInputError
from plugins.images import to_grayscale
from plugins.mnist_cnn.preprocess import mnist_like


def drawing(size=280, dark_on_light=True, box=(60, 40, 120, 240)) -> np.ndarray:
    """A thick vertical bar on paper, as a canvas drawing of a "1"."""
    paper, ink = (255, 0) if dark_on_light else (0, 255)
    canvas = np.full((size, size), paper, dtype=np.uint8)
    left, top, width, height = box
    canvas[top:top + height, left:left + width // 3] = ink
    return canvas


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, columns = np.indices(image.shape)
    return (rows * image).sum() / image.sum(), (columns * image).sum() / image.sum()


@pytest.mark.parametrize("dark_on_light", [True, False])
def test_output_is_white_on_black_fitted_in_20_and_centred(dark_on_light):
    digit = mnist_like(drawing(dark_on_light=dark_on_light))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.max() == pytest.approx(1.0) and digit.min() == 0.0
    assert digit[0].sum() == 0 and digit[:, 0].sum() == 0, "background is black"
    rows, columns = np.nonzero(digit > 0.05)
    assert rows.max() - rows.min() + 1 <= 21, "the longer side is fitted into 20 pixels"
    assert np.allclose(centre_of_mass(digit), (13.5, 13.5), atol=0.75)


def test_rgba_canvas_with_transparent_background():
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)  # transparent everywhere: what a Sketchpad starts as
    rgba[40:240, 100:140] = [0, 0, 0, 255]  # opaque black stroke
    digit = mnist_like({"composite": rgba, "background": None, "layers": []})
    assert digit.max() == pytest.approx(1.0) and digit[0].sum() == 0


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "CMYK", "P", "I;16", "LA", "1"])
def test_every_common_image_mode_is_accepted(mode):
    image = Image.fromarray(drawing()).convert(mode) if mode != "I;16" else Image.fromarray(
        (drawing().astype(np.uint16) * 257), mode="I;16")
    digit = mnist_like(image)
    assert digit.max() == pytest.approx(1.0) and np.allclose(centre_of_mass(digit), (13.5, 13.5), atol=0.75)


@pytest.mark.parametrize("mode", ["L", "RGB", "LA", "P"])
def test_every_mode_reads_as_the_same_grey_as_its_rgba_picture_laid_on_white(mode):
    """Pictures without transparency skip the RGBA copy: the grey must be what the RGBA path gives."""
    colours = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    image = Image.fromarray(colours, "RGB").convert(mode)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255
    on_white = (rgba[..., :3] * rgba[..., 3:] + 1 - rgba[..., 3:]).mean(axis=-1)
    np.testing.assert_allclose(to_grayscale(image), on_white, atol=1e-6)


def test_uploaded_files_png_jpeg_and_sixteen_bit(tmp_path):
    for name, image in (("d.png", Image.fromarray(drawing())), ("d.jpg", Image.fromarray(drawing()).convert("RGB")),
                        ("d16.png", Image.fromarray(drawing().astype(np.uint16) * 257, mode="I;16"))):
        image.save(tmp_path / name)
        assert mnist_like(str(tmp_path / name)).max() == pytest.approx(1.0)


@pytest.mark.parametrize("blank", [np.zeros((100, 100)), np.full((100, 100), 255), np.full((50, 60, 3), 128)])
def test_blank_or_single_colour_pictures_are_refused(blank):
    with pytest.raises(UnusableInputError, match="blank"):
        mnist_like(blank.astype(np.uint8))


def test_not_an_image_and_wrong_sizes_are_refused(tmp_path):
    fake = tmp_path / "digit.png"
    fake.write_bytes(b"%PDF-1.4 not an image at all")
    with pytest.raises(UnusableInputError, match="not an image"):
        mnist_like(str(fake))
    with pytest.raises(UnusableInputError, match="at least 8x8"):
        mnist_like(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(UnusableInputError, match="limit"):
        mnist_like(np.zeros((5000, 10), dtype=np.uint8))
    with pytest.raises(UnusableInputError, match="No image"):
        mnist_like(None)
    with pytest.raises(UnusableInputError, match="No image"):
        mnist_like({"composite": None})
    with pytest.raises(UnusableInputError, match="shape"):
        mnist_like(np.zeros((10, 10, 10, 3)))
    with pytest.raises(UnusableInputError, match="NaN"):
        mnist_like(np.full((10, 10), np.nan))


def test_huge_pixel_count_png_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(path)  # small file, 400 megapixels once decoded
    with pytest.raises(UnusableInputError):
        mnist_like(str(path))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays(dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.bool_]),
              shape=st.tuples(st.integers(1, 64), st.integers(1, 64)) | st.tuples(
                  st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 2, 3, 4]))))
def test_any_array_gives_a_digit_or_a_clear_refusal(array):
    try:
        digit = mnist_like(array)
    except UnusableInputError as error:
        assert str(error)
        return
    assert digit.shape == (28, 28) and np.isfinite(digit).all()
    assert 0.0 <= digit.min() and digit.max() <= 1.0 + 1e-6


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_decode_to_a_picture_or_a_clear_refusal(data):
    from plugins.images import image_from_bytes
    try:
        to_grayscale(image_from_bytes(data))
    except UnusableInputError as error:
        assert str(error)


@pytest.mark.parametrize("kind", ["file", "array"])
def test_the_largest_accepted_picture_is_read_in_bounded_memory(tmp_path, kind):
    # 4096 x 4096 RGBA in float32 would be 268 MB; reduced to 1024 px first, it stays far below
    import tracemalloc

    picture = Image.new("RGBA", (4096, 4096), (255, 255, 255, 255))
    ImageDraw.Draw(picture).line([(2048, 600), (2048, 3500)], fill=(0, 0, 0, 255), width=400)
    path = tmp_path / "big.png"
    picture.save(path)
    source = str(path) if kind == "file" else np.asarray(picture)
    del picture
    tracemalloc.start()
    digit = mnist_like(source)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 120 * 2**20, f"{peak / 2**20:.0f} MB"
    assert digit.shape == (28, 28) and digit[:, 14].max() > 0.9  # the stroke survives, centred


@pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "mnist-cnn" / "config.json").is_file(), reason="no weights")
def test_digits_photographed_on_grainy_dusty_paper_are_cropped_to_the_digit_and_read(mnist_dir):
    """Stretching such a photo between its darkest and lightest pixel made the grain ink: the crop took the
    whole sheet and the digit shrank to a corner (6 of these 40 were read right before the paper was read from
    the border and specks dropped)."""
    from plugins.familiarity_fit import photo_on_paper
    from plugins.mnist_cnn import predict_probabilities
    from plugins.mnist_cnn.data import read_idx
    from plugins.registry import get_plugin

    model = get_plugin("mnist-cnn").load_for_demo(REPO_ROOT / "pretrained" / "mnist-cnn")
    images, labels = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz"), read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    rng = np.random.default_rng(0)
    photos = [photo_on_paper(images[index] / 255.0, rng) for index in range(40)]
    frames = np.stack([mnist_like(photo) for photo in photos])
    assert all(frame[0].sum() == 0 and frame[:, 0].sum() == 0 for frame in frames), "no grain left at the border"
    correct = (predict_probabilities(model, frames).argmax(-1) == labels[:40]).sum()
    assert correct >= 38, f"{correct} of 40 photographed digits read right"
