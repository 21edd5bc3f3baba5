"""Is a two-bar melody "musical"? Simple checks that held-out real melodies pass and random notes fail.

A melody passes when all of these hold:

- it moves: at least 3 notes, at least 3 different pitches, and no pitch struck
  more than 4 times in a row (a decoder that has nothing to say repeats one
  note; 99 % of the corpus melodies have 3 pitches or more and 99 % repeat a
  pitch at most 4 times);
- no bar is silent from beginning to end;
- at least 85 % of its notes belong to one major or harmonic-minor scale (the
  natural minor is the relative major's set, so it is covered too);
- its range is at most two octaves and no step between neighbouring notes
  leaps more than an octave.

Why these thresholds: on the 1,743 held-out melodies of the hub's corpus (the
validation and test windows of plugins/melody_vae/data.py), 95.2 % pass all
checks (the largest group of the others leaps more than an octave: 36). Of
1,000 melodies whose 32 tokens are drawn at random none passes: the scale check
alone rejects 97 % of them (their best scale holds 74 % of their notes,
median), the range and leap checks all. So a model whose outputs pass about as
often as the corpus writes melodies that are plausible on these counts; the
checks say nothing about whether a melody is beautiful.
`plugins/melody_vae/test_melody_vae.py` pins the corpus figure.
"""

from __future__ import annotations

from dataclasses import dataclass

MAJOR = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)
SCALES = tuple(frozenset((tonic + degree) % 12 for degree in scale) for scale in (MAJOR, HARMONIC_MINOR)
               for tonic in range(12))
MIN_NOTES, MIN_PITCHES, MAX_REPEATS = 3, 3, 4
MIN_SCALE_SHARE = 0.85
MAX_RANGE, MAX_LEAP = 24, 12


@dataclass(frozen=True)
class Verdict:
    musical: bool
    reasons: tuple[str, ...]  # the checks it failed, in words


def judge(codec, melody) -> Verdict:
    """Which of the checks a melody (tokens) fails; none failed means musical."""
    notes = codec.notes_from_melody(melody)
    pitches = [note.pitch for note in notes]
    reasons = []
    if len(notes) < MIN_NOTES or len(set(pitches)) < MIN_PITCHES:
        reasons.append(f"fewer than {MIN_NOTES} notes or {MIN_PITCHES} pitches")
    run = longest = 1
    for before, after in zip(pitches, pitches[1:]):
        run = run + 1 if before == after else 1
        longest = max(longest, run)
    if longest > MAX_REPEATS:
        reasons.append(f"one pitch struck {longest} times in a row")
    sounding = [False] * len(melody)
    for note in notes:
        for step in range(note.onset, note.onset + note.duration):
            sounding[step] = True
    bar = codec.steps_per_bar
    if any(not any(sounding[start:start + bar]) for start in range(0, len(melody), bar)):
        reasons.append("a silent bar")
    if pitches:
        in_scale = max(sum(pitch % 12 in scale for pitch in pitches) for scale in SCALES) / len(pitches)
        if in_scale < MIN_SCALE_SHARE:
            reasons.append(f"only {in_scale:.0%} of the notes in one major or minor scale")
        if max(pitches) - min(pitches) > MAX_RANGE:
            reasons.append("a range over two octaves")
        if any(abs(high - low) > MAX_LEAP for low, high in zip(pitches, pitches[1:])):
            reasons.append("a leap over an octave")
    return Verdict(not reasons, tuple(reasons))


def changed_share(first, second) -> float:
    """The share of steps whose token differs between two melodies of equal length."""
    return sum(int(a) != int(b) for a, b in zip(first, second)) / len(first)
