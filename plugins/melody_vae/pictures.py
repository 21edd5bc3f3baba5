"""The two pictures of the melody tab: a piano roll of an interpolation and a 2-D map of the latent space.

Both are drawn with Pillow (no plotting library in the Space). The map is a
PCA of the codes of the corpus melodies shipped with the weights: the plane
in which those codes spread most, the same plane for the path drawn on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image, ImageDraw

from models.melody_vae import FIRST_PITCH_TOKEN

FIRST_COLOUR, LAST_COLOUR = (40, 110, 200), (230, 110, 30)  # the first melody blue, the last orange
BACKGROUND, SHADE, BAR_LINE = (252, 252, 250), (240, 240, 236), (205, 205, 200)


def blend(fraction: float) -> tuple[int, int, int]:
    return tuple(round(a + (b - a) * fraction) for a, b in zip(FIRST_COLOUR, LAST_COLOUR))


def piano_roll(codec, melodies, gap_steps: int = 0, max_width: int = 1400) -> Image.Image:
    """The melodies one after another, as they are played; the i-th of n drawn in a colour between blue (first)
    and orange (last), every other melody on a shaded band, a line at each bar."""
    melodies = [[int(token) for token in melody] for melody in melodies]
    pitches = [codec.pitch_of(token) for melody in melodies for token in melody if token >= FIRST_PITCH_TOKEN]
    low, high = (min(pitches) - 2, max(pitches) + 2) if pitches else (60, 72)
    row = max(3, min(9, 360 // (high - low + 1)))
    span = codec.num_steps + gap_steps
    total = len(melodies) * span - gap_steps
    scale = max(2.0, min(12.0, max_width / max(1, total)))
    width, height = int(total * scale) + 1, (high - low + 1) * row + 14
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for index, melody in enumerate(melodies):
        left = index * span * scale
        if index % 2:
            draw.rectangle([left, 14, left + codec.num_steps * scale, height], fill=SHADE)
        draw.text((left + 2, 1), str(index + 1), fill=(90, 90, 90))
        for step in range(0, codec.num_steps, codec.steps_per_bar):
            draw.line([(left + step * scale, 14), (left + step * scale, height)], fill=BAR_LINE)
        colour = blend(index / max(1, len(melodies) - 1))
        for note in codec.notes_from_melody(melody):
            y = 14 + (high - note.pitch) * row
            x0 = left + note.onset * scale
            x1 = max(x0 + 1, left + (note.onset + note.duration) * scale - 1)
            draw.rectangle([x0, y + 1, x1, y + row - 1], fill=colour)
    return image


@dataclass
class LatentMap:
    """A plane through the codes of the corpus melodies: their mean and their first two principal directions."""

    center: torch.Tensor  # (latent,)
    directions: torch.Tensor  # (latent, 2)
    corpus: torch.Tensor  # (melodies, 2): the corpus codes in the plane
    explained: float  # share of the codes' variance the plane shows

    @classmethod
    def of(cls, codes: torch.Tensor) -> "LatentMap":
        center = codes.mean(0)
        _, singular, right = torch.linalg.svd(codes - center, full_matrices=False)
        directions = right[:2].T
        variance = singular.pow(2)
        return cls(center, directions, (codes - center) @ directions, float(variance[:2].sum() / variance.sum()))

    def project(self, codes: torch.Tensor) -> torch.Tensor:
        return (codes - self.center) @ self.directions

    def draw(self, path: torch.Tensor, size: int = 460) -> Image.Image:
        """The corpus codes as grey dots, the path's codes (path[0] the first melody, path[-1] the last) joined
        by a line from blue to orange, its ends as large dots."""
        points = self.project(path)
        everything = torch.cat([self.corpus, points])
        low, high = everything.min(0).values, everything.max(0).values
        margin = 16
        span = (high - low).clamp(min=1e-6)

        def place(point) -> tuple[float, float]:
            x = margin + float((point[0] - low[0]) / span[0]) * (size - 2 * margin)
            y = margin + float((high[1] - point[1]) / span[1]) * (size - 2 * margin)
            return x, y

        # The title goes under the map: Gradio's label covers an image's top left corner.
        image = Image.new("RGB", (size, size + 18), BACKGROUND)
        draw = ImageDraw.Draw(image)
        draw.text((4, size + 3), f"PCA of the codes: this plane shows {self.explained:.0%} of their variance",
                  fill=(70, 70, 70))
        for point in self.corpus:
            x, y = place(point)
            draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=(175, 175, 170))
        placed = [place(point) for point in points]
        for index, (start, end) in enumerate(zip(placed, placed[1:])):
            draw.line([start, end], fill=blend((index + 0.5) / max(1, len(placed) - 1)), width=2)
        for index, (x, y) in enumerate(placed):
            radius = 6 if index in (0, len(placed) - 1) else 3
            draw.ellipse([x - radius, y - radius, x + radius, y + radius],
                         fill=blend(index / max(1, len(placed) - 1)), outline=(40, 40, 40))
        return image
