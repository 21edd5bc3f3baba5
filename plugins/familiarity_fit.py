"""Fit and measure the "not sure" check (plugins.familiarity) of a shipped classifier, and write its statistics.

    python -m plugins.familiarity_fit mnist-cnn pretrained/mnist-cnn --data-dir DATA/mnist
    python -m plugins.familiarity_fit font-style pretrained/font-style-cnn     # measures only: no statistics

For the digits: fits the class means and shared covariance on the training split, sets the limit at the 99th
percentile of the validation split and writes `familiarity.safetensors` into the folder (the hub reads it
from there). For both: measures how often the check says "not sure" on the test split (real pictures it
should accept), on pictures made the way users make them (mouse drawings, photos on grainy paper) and on
junk (a dot, specks, a scribble, hatching, a filled box, the other tab's kind of picture); beside it, for the
record, how much of the junk the answer's own top probability, or its energy, would catch at the same 1 %
of validation pictures.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from .errors import UnusableInputError
from .familiarity import (QUANTILE, STATISTICS_FILE, DigitCheck, FeatureDensity, GlyphCheck, last_layer,
                          penultimate_features)
from .registry import get_plugin

CHECKS = {"mnist-cnn": DigitCheck, "font-style": GlyphCheck}
CANVAS = 280  # the sketchpads' size

# Digits as a mouse draws them on the sketchpad: polylines in fractions of the canvas.
DRAWN_DIGITS = {
    "0": [[(0.5, 0.15), (0.32, 0.3), (0.3, 0.6), (0.5, 0.85), (0.68, 0.6), (0.68, 0.3), (0.5, 0.15)]],
    "1": [[(0.5, 0.15), (0.5, 0.85)]],
    "2": [[(0.3, 0.3), (0.45, 0.15), (0.65, 0.2), (0.65, 0.4), (0.3, 0.85), (0.72, 0.85)]],
    "3": [[(0.3, 0.2), (0.65, 0.2), (0.45, 0.48), (0.68, 0.62), (0.6, 0.82), (0.3, 0.82)]],
    "4": [[(0.6, 0.85), (0.6, 0.15), (0.25, 0.6), (0.75, 0.6)]],
    "5": [[(0.68, 0.18), (0.35, 0.18), (0.32, 0.48), (0.62, 0.48), (0.66, 0.75), (0.45, 0.85), (0.3, 0.78)]],
    "6": [[(0.62, 0.15), (0.38, 0.45), (0.35, 0.75), (0.5, 0.85), (0.65, 0.72), (0.6, 0.52), (0.38, 0.55)]],
    "7": [[(0.3, 0.2), (0.7, 0.2), (0.45, 0.85)]],
    "8": [[(0.5, 0.5), (0.35, 0.35), (0.5, 0.15), (0.65, 0.35), (0.35, 0.7), (0.5, 0.85), (0.65, 0.7), (0.5, 0.5)]],
    "9": [[(0.65, 0.4), (0.5, 0.2), (0.35, 0.35), (0.5, 0.5), (0.65, 0.4), (0.62, 0.85)]],
}


def _canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    picture = Image.new("L", (CANVAS, CANVAS), 255)
    return picture, ImageDraw.Draw(picture)


def drawn_digit(label: str, rng: np.random.Generator) -> np.ndarray:
    """A digit drawn with the mouse: the template's strokes, shifted, scaled and shaken, 10-15 pixels wide."""
    picture, draw = _canvas()
    scale, (dx, dy) = rng.uniform(0.6, 1.1), rng.uniform(-0.15, 0.15, 2)
    for stroke in DRAWN_DIGITS[label]:
        points = [(CANVAS * (0.5 + (x - 0.5) * scale + dx) + rng.normal(0, 4),
                   CANVAS * (0.5 + (y - 0.5) * scale + dy) + rng.normal(0, 4)) for x, y in stroke]
        draw.line(points, fill=0, width=int(rng.integers(10, 16)), joint="curve")
    return np.asarray(picture)


def photo_on_paper(ink: np.ndarray, rng: np.random.Generator, side: int = 400) -> np.ndarray:
    """Ink in [0, 1] -> a grey photo: the ink in the middle half of grainy paper with a shadow and dust."""
    small = Image.fromarray((ink * 255).astype(np.uint8)).resize((side // 2, side // 2), Image.Resampling.BICUBIC)
    placed = np.zeros((side, side), np.float32)
    top, left = side // 4 + rng.integers(-side // 8, side // 8, 2)
    placed[top:top + side // 2, left:left + side // 2] = np.asarray(small, np.float32) / 255
    paper = 225 + 20 * np.linspace(-1, 1, side)[None, :] + rng.normal(0, 18, (side, side))
    picture = paper * (1 - placed) + 45 * placed
    for _ in range(8):
        y, x = rng.integers(0, side, 2)
        radius = int(rng.integers(1, 4))
        picture[max(0, y - radius):y + radius, max(0, x - radius):x + radius] -= rng.uniform(60, 140)
    return np.clip(picture, 0, 255).astype(np.uint8)


def junk(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A picture that is no digit and no character, as a visitor might send one."""
    picture, draw = _canvas()
    if kind == "a dot":
        radius, (x, y) = rng.uniform(4, 14), rng.uniform(40, 240, 2)
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=0)
    elif kind == "specks":
        for _ in range(rng.integers(2, 5)):
            radius, (x, y) = rng.uniform(2, 5), rng.uniform(20, 260, 2)
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=0)
    elif kind == "a scribble":
        draw.line([tuple(point) for point in rng.uniform(30, 250, (rng.integers(8, 20), 2))], fill=0, width=12,
                  joint="curve")
    elif kind == "hatching":
        left = rng.uniform(40, 120)
        for index in range(rng.integers(4, 9)):
            draw.line([(left + 18 * index, 50), (left + 18 * index + 40, 230)], fill=0, width=10)
    elif kind == "a filled box":
        (x, y), (width, height) = rng.uniform(40, 120, 2), rng.uniform(60, 140, 2)
        draw.rectangle([x, y, x + width, y + height], fill=0)
    else:
        raise ValueError(f"unknown junk {kind!r}")
    return np.asarray(picture)


def rendered_character(renderer, characters: list[str], rng: np.random.Generator) -> np.ndarray:
    glyph = None
    while glyph is None:
        glyph = renderer.render(characters[rng.integers(len(characters))])
    return 255 - np.asarray(Image.fromarray(glyph).resize((CANVAS, CANVAS)).filter(ImageFilter.GaussianBlur(1)))


def doubt_rate(check, pictures) -> tuple[float, int]:
    """(share of pictures the check is not sure of, how many it read): a blank picture is refused, not read."""
    doubts = []
    for picture in pictures:
        try:
            doubts.append(bool(check.doubt(picture)))
        except UnusableInputError:
            continue
    return (float(np.mean(doubts)) if doubts else float("nan")), len(doubts)


def answer_confidence_alone(model, check, validation_logits, pictures) -> dict[str, float]:
    """For the record: the share of `pictures` the classifier's own top probability, or its energy, would call
    "not sure" at the same 1 % of validation pictures."""
    frames = []
    for picture in pictures:
        try:
            frames.append(check.prepare(picture)[1])
        except UnusableInputError:
            continue
    with torch.no_grad():
        logits = model(pixel_values=torch.from_numpy(np.stack(frames))[:, None]).logits.double()
    shares = {}
    for name, score in (("top probability", lambda values: -values.softmax(-1).max(-1).values),
                        ("energy", lambda values: -torch.logsumexp(values, -1))):
        limit = np.percentile(score(validation_logits).numpy(), QUANTILE)
        shares[name] = float((score(logits) > limit).double().mean())
    return shares


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("plugin", choices=sorted(CHECKS))
    parser.add_argument("folder", type=Path, help="a shipped weights folder, e.g. pretrained/mnist-cnn")
    parser.add_argument("--data-dir", type=Path, help="the plugin's data (MNIST's IDX files; fonts: system fonts)")
    parser.add_argument("--pictures", type=int, default=200, help="pictures per kind of drawing, photo and junk")
    parser.add_argument("--no-write", action="store_true", help="measure only; leave the folder as it is")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    plugin = get_plugin(args.plugin)
    model = plugin.load_for_demo(args.folder)
    results = json.loads((args.folder / "results.json").read_text()) if (args.folder / "results.json").is_file() else {}
    data = plugin.load_data(args.data_dir, plugin.preset(results.get("preset")), seed=0)

    @torch.no_grad()
    def features_and_logits(dataset):
        features = torch.cat([penultimate_features(model, batch["pixel_values"]) for batch in
                              torch.utils.data.DataLoader(dataset, batch_size=500, collate_fn=plugin.collate)])
        return features, last_layer(model)(features.float()).double()

    validation_features, validation_logits = features_and_logits(data.validation)
    rng, count = np.random.default_rng(0), args.pictures
    test_pixels = data.test.fields["pixel_values"]
    if args.plugin == "mnist-cnn":
        def batches():
            loader = torch.utils.data.DataLoader(data.train, batch_size=500, collate_fn=plugin.collate)
            return ((penultimate_features(model, batch["pixel_values"]), batch["labels"]) for batch in loader)

        density = FeatureDensity.fit(batches, model.config.num_labels)
        density.calibrate(validation_features)
        check = DigitCheck(model, density)
        print(f"{args.folder.name}: limit {density.threshold:,.1f} (the {QUANTILE:g}th percentile of "
              f"{len(validation_features):,} validation pictures)")
        test_doubt = (density.distances(features_and_logits(data.test)[0]) > density.threshold).double()
        test_name = "test pictures (their distance alone)"
        real = {"mouse drawings": [drawn_digit(str(index % 10), rng) for index in range(count)],
                "test digits photographed on grainy paper": [photo_on_paper(image[0].numpy(), rng)
                                                             for image in test_pixels[:count]]}
        from .glyphs import GlyphRenderer, character_list, resolve_font

        renderer, characters = GlyphRenderer(resolve_font("kai")), character_list("moe")[1]
        other = {"a Chinese character": [rendered_character(renderer, characters, rng) for _ in range(count)]}
    else:
        density, check = None, GlyphCheck(DigitCheck.load())
        test_doubt = torch.tensor([float(bool(check.doubt((255 - image[0].numpy() * 255).astype(np.uint8))))
                                   for image in test_pixels])
        test_name = "test glyphs (rendered characters never trained on, all four fonts)"
        real = {}
        other = {"a handwritten digit": [drawn_digit(str(index % 10), rng) for index in range(count)]}
    junk_sets = {kind: [junk(kind, rng) for _ in range(count)]
                 for kind in ("a dot", "specks", "a scribble", "hatching", "a filled box")} | other

    rate = float(test_doubt.mean())
    print(f"not sure of {100 * rate:.2f} ± {100 * math.sqrt(rate * (1 - rate) / len(test_doubt)):.2f} % "
          f"of the {len(test_doubt):,} {test_name}")
    for name, pictures in real.items():
        share, read = doubt_rate(check, pictures)
        print(f"not sure of {100 * share:.1f} % of {read} {name}")
    caught = {}
    for name, pictures in junk_sets.items():
        share, read = doubt_rate(check, pictures)
        caught[name] = share
        confidence = answer_confidence_alone(model, check, validation_logits, pictures)
        print(f"not sure of {100 * share:.1f} % of {read} pictures of {name} ({len(pictures) - read} refused as "
              "blank); the answer's own " + ", ".join(f"{score} alone: {100 * share:.0f} %"
                                                       for score, share in confidence.items()))
    if density is not None and not args.no_write:
        density.save(args.folder / STATISTICS_FILE, quantile=QUANTILE, validation_pictures=len(validation_features),
                     test_not_sure=f"{rate:.4f}", junk_not_sure=json.dumps(caught))
        print(f"wrote {args.folder / STATISTICS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
