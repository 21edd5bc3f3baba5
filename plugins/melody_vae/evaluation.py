"""What the card and the README say about a melody autoencoder, measured on held-out melodies, with errors.

- Reconstruction: each test melody is encoded (the posterior mean) and decoded
  greedily, feeding back its own tokens, as a listener hears it; the share of
  its 32 steps that come back right, averaged over melodies. Teacher-forced
  accuracy (the true previous token fed in) is reported beside it.
- KL per melody: KL(q(z|x) || N(0, I)) in nats, the closed form, averaged over
  test melodies: how much information the code carries at most.
- Prior samples: `SAMPLES` codes drawn from N(0, I), decoded greedily; the
  share that passes the checks of music.py.
- Interpolations: `PAIRS` pairs of test melodies drawn with a fixed seed (the
  same pairs for every model), `PATH_POINTS` codes from one to the other
  (both ends included), each decoded greedily. The midpoint's verdict says
  whether the space between two melodies holds a melody; smoothness is the
  share of steps that change between neighbouring points (mean over the path,
  and the largest jump).

Errors are standard errors over melodies (or pairs, or samples); shares get
the binomial error. Greedy decoding everywhere: the figures then describe the
codes, not the luck of a draw.
"""

from __future__ import annotations

import math

import torch

from models.melody_vae import interpolate_latents

from ..lstm_composer.novelty import mean_and_error
from .music import changed_share, judge

SAMPLES = 512
PAIRS = 300
PATH_POINTS = 9  # the midpoint is point 4
PAIR_SEED = 1234
SAMPLE_SEED = 0


def share_and_error(verdicts: list[bool]) -> tuple[float, float]:
    """The share of True and its binomial standard error."""
    count = max(1, len(verdicts))
    share = sum(verdicts) / count
    return share, math.sqrt(max(share * (1 - share), 0.0) / count)


def test_pairs(count: int, melodies: int) -> list[tuple[int, int]]:
    """`count` pairs of different test melodies, the same for every model measured on the same test split."""
    generator = torch.Generator().manual_seed(PAIR_SEED)
    pairs = []
    while len(pairs) < count and melodies > 1:
        first, second = torch.randint(melodies, (2,), generator=generator).tolist()
        if first != second:
            pairs.append((first, second))
    return pairs


@torch.no_grad()
def reconstruction(model, melodies: torch.Tensor, batch_size: int = 512) -> dict:
    """Greedy and teacher-forced per-step accuracy and KL per melody, each as (mean, standard error)."""
    model.eval()
    greedy, forced, kl = [], [], []
    for batch in melodies.split(batch_size):
        batch = batch.to(model.device)
        output = model(input_ids=batch, labels=batch)
        forced += (output.logits.argmax(-1) == batch).float().mean(1).tolist()
        kl += output.kl.tolist()
        decoded = model.decode(output.latent_mean)
        greedy += (decoded == batch).float().mean(1).tolist()
    return {"greedy_accuracy": mean_and_error(greedy), "teacher_forced_accuracy": mean_and_error(forced),
            "kl": mean_and_error(kl) if model.config.variational else None, "melodies": len(greedy)}


@torch.no_grad()
def prior_samples(model, count: int = SAMPLES) -> dict:
    samples = model.sample(count, temperature=0.0, seed=SAMPLE_SEED)
    verdicts = [judge(model.codec, melody.tolist()) for melody in samples]
    return {"musical": share_and_error([verdict.musical for verdict in verdicts]), "count": count,
            "distinct": len({tuple(melody.tolist()) for melody in samples})}


@torch.no_grad()
def interpolations(model, melodies: torch.Tensor, count: int = PAIRS, method: str = "slerp") -> dict:
    """Midpoint verdicts and smoothness of interpolations between pairs of test melodies."""
    pairs = test_pairs(count, len(melodies))
    codes = model.encode(melodies)
    paths = torch.stack([interpolate_latents(codes[first], codes[second], PATH_POINTS, method)
                         for first, second in pairs])  # (pairs, points, latent)
    decoded = model.decode(paths.flatten(0, 1)).view(len(pairs), PATH_POINTS, -1).tolist()
    middle = PATH_POINTS // 2
    midpoints = [judge(model.codec, path[middle]).musical for path in decoded]
    changes = [[changed_share(path[index], path[index + 1]) for index in range(PATH_POINTS - 1)] for path in decoded]
    return {
        "method": method, "pairs": len(pairs), "points": PATH_POINTS,
        "midpoint_musical": share_and_error(midpoints),
        "midpoint_verdicts": "".join("1" if verdict else "0" for verdict in midpoints),
        "mean_change": mean_and_error([sum(path) / len(path) for path in changes]),
        "largest_change": mean_and_error([max(path) for path in changes]),
        "ends_musical": share_and_error([judge(model.codec, path[end]).musical for path in decoded for end in (0, -1)]),
    }


def corpus_reference(codec, melodies: torch.Tensor) -> dict:
    """How often real held-out melodies pass the checks: the ceiling a model's outputs are read against."""
    return {"musical": share_and_error([judge(codec, melody.tolist()).musical for melody in melodies]),
            "count": len(melodies)}


def paired_difference(first: str, second: str) -> tuple[float, float]:
    """Share(first) - share(second) of two verdict strings over the same pairs, with the paired standard error."""
    if len(first) != len(second) or not first:
        raise ValueError("the two verdict strings must cover the same pairs")
    differences = [int(a) - int(b) for a, b in zip(first, second)]
    return mean_and_error(differences)
