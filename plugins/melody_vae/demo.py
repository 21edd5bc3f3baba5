"""The melody VAE tab: two melodies, the path between them heard as one piece, samples from the prior, the latent
map, and the autoencoder beside the VAE.

Callbacks are thin wrappers over melodies.py (checked inputs, interpolation),
playing.py (MIDI and FluidSynth) and pictures.py (piano roll, map). They write
the WAV and MIDI files into Gradio's cache folder, which Gradio serves without
copying and the hub's sweeper bounds (plugins.tempfiles). Everything that
renders audio runs in the HEAVY concurrency group.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from models.melody_vae import INTERPOLATIONS

from ..errors import UnusableInputError
from ..lstm_composer.audio import write_wav
from ..serving import DemoModel, chosen_model
from ..ui import HEAVY, user_facing
from .melodies import (
    MAX_POINTS, MAX_SAMPLES, MAX_SEED, MAX_TEMPERATURE, MIN_POINTS, Interpolation, ShippedMelodies, checked_method,
    checked_points, checked_sampling, chosen_melody, interpolate, latent_map,
)
from .music import changed_share, judge
from .pictures import piano_roll
from .playing import play

DEFAULT_POINTS = 9
FILE_LABEL = "or a MIDI file (its top line, first two bars; at most 5 MB)"
TYPED_LABEL = "or type notes (C4 = middle C, . a rest, :2 two beats, :1/2 half a beat)"


def output_paths(stem: str) -> tuple[Path, Path]:
    """A WAV and a MIDI path of their own inside Gradio's cache folder."""
    folder = Path(get_upload_folder()) / f"melody-vae-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    return folder / f"{stem}.wav", folder / f"{stem}.mid"


def written(model, melodies: list[list[int]], stem: str) -> tuple[str, str, str]:
    """(WAV path, MIDI path, a note on how it was rendered) of the melodies played one after another."""
    played = play(model, melodies)
    wav, midi = output_paths(stem)
    write_wav(wav, played.rendering)
    midi.write_bytes(played.midi)
    return str(wav), str(midi), played.rendering.note


def cell(text: str) -> str:
    """Text for a Markdown table cell: its bar lines would end the cell."""
    return text.replace("|", "\\|")


def describe_path(model, result: Interpolation, first_name: str, last_name: str, method: str) -> str:
    lines = [
        f"From **{first_name}** to **{last_name}**, {len(result.melodies)} melodies along the {method} path "
        f"(both ends included). The ends are the model's reconstructions of the two: "
        f"{result.end_accuracy[0]:.0%} and {result.end_accuracy[1]:.0%} of their steps come back. "
        f"**{result.midpoints_musical()} of the {len(result.melodies) - 2} melodies in between are musical** by the "
        "checks on the card (in one key, moving, no silent bar, no wild leaps).",
        "",
        "| step | melody ('-' holds, '.' rests) | musical? |",
        "|---|---|---|",
    ]
    for index, (melody, verdict) in enumerate(zip(result.melodies, result.verdicts)):
        mark = "yes" if verdict.musical else "no: " + "; ".join(verdict.reasons)
        lines.append(f"| {index + 1} | `{cell(model.codec.describe(melody))}` | {mark} |")
    return "\n".join(lines)


def build_tab(plugin, models: dict[str, DemoModel]) -> None:
    choices = list(models)
    first_model = models[choices[0]].model
    shipped = ShippedMelodies.load(models[choices[0]].folder, first_model.codec)
    names = list(shipped.tokens)
    maps = {}  # label -> LatentMap, made on first use: encoding the shipped melodies need not slow the hub's start

    def map_of(label: str):
        if label not in maps:
            maps[label] = latent_map(models[label].model, shipped)
        return maps[label]

    autoencoder = next((label for label, demo_model in models.items() if not demo_model.model.config.variational),
                       None)
    first_default = next((name for name in names if name.startswith("Bach")), names[0] if names else None)
    last_default = next((name for name in names if "O'Neill" in name), names[-1] if names else None)

    def run_path(choice, first, first_file, last, last_file, points, method, first_notes="", last_notes=""):
        demo_model = chosen_model(models, choice)
        model = demo_model.model
        points, method = checked_points(points), checked_method(method)
        first_tokens, first_name = chosen_melody(model.codec, shipped, first, first_file, first_notes)
        last_tokens, last_name = chosen_melody(model.codec, shipped, last, last_file, last_notes)
        result = interpolate(model, first_tokens, last_tokens, points, method)
        wav, midi, note = written(model, result.melodies, f"melody-vae-{method}-{points}")
        notes = describe_path(model, result, first_name, last_name, method) + (f"\n\n*{note}*" if note else "")
        plane = map_of(choice)
        path_map = plane.draw(result.latents) if plane is not None else None
        return midi, wav, piano_roll(model.codec, result.melodies), path_map, notes, result

    @user_facing
    def interpolate_melodies(choice: str = choices[0], first: str | None = first_default, first_file=None,
                             last: str | None = last_default, last_file=None, points: int = DEFAULT_POINTS,
                             method: str = "slerp", first_notes: str = "", last_notes: str = ""):
        """API: the path between two melodies (corpus names from the list, MIDI files, which win when given, or
        notes typed as names, "C4 D4 E4:2 . G4", which win over a corpus name) in `points` steps ({MIN_POINTS}-{MAX_POINTS}, ends included) through the chosen model's latent space;
        returns (MIDI file, WAV file, piano roll, latent map, notes on each step)."""
        midi, wav, roll, path_map, notes, _ = run_path(choice, first, first_file, last, last_file, points, method,
                                                       first_notes, last_notes)
        return midi, wav, roll, path_map, notes

    @user_facing
    def sample_melodies(choice: str = choices[0], count: int = 4, temperature: float = 0.0, seed: int = 0):
        """API: `count` new melodies from the prior N(0, I), decoded with `temperature` (0 = the likeliest melody
        for each code); returns (MIDI file, WAV file, piano roll, notes)."""
        model = chosen_model(models, choice).model
        count, temperature, seed = checked_sampling(count, temperature, seed)
        melodies = model.sample(count, temperature=temperature, seed=seed).tolist()
        wav, midi, note = written(model, melodies, f"melody-vae-samples-seed{seed}")
        verdicts = [judge(model.codec, melody) for melody in melodies]
        lines = [f"{sum(verdict.musical for verdict in verdicts)} of {count} samples are musical by the card's "
                 "checks.", "", "| sample | melody | musical? |", "|---|---|---|"]
        lines += [f"| {index + 1} | `{cell(model.codec.describe(melody))}` | "
                  f"{'yes' if verdict.musical else 'no: ' + '; '.join(verdict.reasons)} |"
                  for index, (melody, verdict) in enumerate(zip(melodies, verdicts))]
        return midi, wav, piano_roll(model.codec, melodies), "\n".join(lines) + (f"\n\n*{note}*" if note else "")

    def model_notes(choice: str) -> str:
        demo_model = models[choice]
        return f"**{choice}**: {demo_model.headline() or 'no measured figures in its folder'}. Weights: {demo_model.source}."

    @user_facing
    def listen(choice: str, name: str | None, upload, typed: str = ""):
        model = chosen_model(models, choice).model
        tokens, _ = chosen_melody(model.codec, shipped, name, upload, typed)
        wav, _, _ = written(model, [tokens], "melody-vae-melody")
        return wav, piano_roll(model.codec, [tokens])

    @user_facing
    def compare(choice, first, first_file, last, last_file, points, method, first_notes="", last_notes=""):
        if autoencoder is None:
            raise UnusableInputError("The autoencoder's weights are not loaded here, so there is nothing to compare.")
        variational = choice if choice != autoencoder else next(label for label in choices if label != autoencoder)
        sides = []
        for label in (autoencoder, variational):
            _, wav, roll, path_map, _, result = run_path(label, first, first_file, last, last_file, points, method,
                                                         first_notes, last_notes)
            change = sum(changed_share(a, b) for a, b in zip(result.melodies, result.melodies[1:]))
            summary = (f"**{label}**: {result.midpoints_musical()} of {len(result.melodies) - 2} melodies between the "
                       f"ends are musical; from one step to the next {change / (len(result.melodies) - 1):.0%} of "
                       "the sixteenths change, on average.")
            sides += [wav, roll, path_map, summary]
        return sides

    gr.Markdown(
        "An **autoencoder** squeezes each two-bar melody through a short code z (the *latent space*) and rebuilds it "
        "from there; a **variational autoencoder** (VAE) also asks the codes of all melodies to look like a standard "
        "normal cloud, which makes the space between melodies meaningful. Pick two melodies, hear the path between "
        "their codes as one piece (the first in blue, the last in orange), see where the path runs on a map of the "
        "space, draw new melodies from the prior, and compare with the plain autoencoder: codes drawn at random "
        "mostly decode to things that are not melodies there (the model cards have the figures)."
    )
    with gr.Row():
        with gr.Column():
            weights = gr.Radio(choices, value=choices[0], label="Model", elem_id="melody-vae-model")
            model_info = gr.Markdown(model_notes(choices[0]), elem_id="melody-vae-model-info")
            with gr.Row():
                with gr.Column(min_width=240):
                    first = gr.Dropdown(names, value=first_default, label="First melody (held-out corpus)",
                                        allow_custom_value=True, elem_id="melody-vae-first")
                    first_file = gr.File(label=FILE_LABEL, file_types=[".mid", ".midi"], type="filepath",
                                         elem_id="melody-vae-first-file")
                    first_notes = gr.Textbox("", max_lines=1, label=TYPED_LABEL, placeholder="C4 D4 E4 C4 | E4 F4 G4:2",
                                             elem_id="melody-vae-first-notes")
                    first_button = gr.Button("Listen to the first", size="sm", elem_id="melody-vae-listen-first")
                    first_audio = gr.Audio(type="filepath", format="wav", label="First melody",
                                           elem_id="melody-vae-first-audio")
                with gr.Column(min_width=240):
                    last = gr.Dropdown(names, value=last_default, label="Second melody (held-out corpus)",
                                       allow_custom_value=True, elem_id="melody-vae-last")
                    last_file = gr.File(label=FILE_LABEL, file_types=[".mid", ".midi"], type="filepath",
                                        elem_id="melody-vae-last-file")
                    last_notes = gr.Textbox("", max_lines=1, label=TYPED_LABEL, placeholder="G4:1/2 A4:1/2 G4 E4 C4",
                                            elem_id="melody-vae-last-notes")
                    last_button = gr.Button("Listen to the second", size="sm", elem_id="melody-vae-listen-last")
                    last_audio = gr.Audio(type="filepath", format="wav", label="Second melody",
                                          elem_id="melody-vae-last-audio")
            melody_roll = gr.Image(type="pil", label="The melody you listened to", height=140)
            with gr.Row():
                points = gr.Slider(MIN_POINTS, MAX_POINTS, value=DEFAULT_POINTS, step=1,
                                   label="Steps (melodies on the path, both ends included)",
                                   elem_id="melody-vae-points")
                method = gr.Radio(list(INTERPOLATIONS), value="slerp", label="Path (slerp: along the sphere "
                                  "where the prior's codes lie; lerp: the straight line)")
            button = gr.Button("Interpolate", variant="primary", elem_id="melody-vae-interpolate")
        with gr.Column():
            audio = gr.Audio(type="filepath", format="wav", label="The path, as one piece", elem_id="melody-vae-audio")
            midi_file = gr.File(label="MIDI file", elem_id="melody-vae-midi")
            roll = gr.Image(type="pil", label="Piano roll: each step two bars, first blue, last orange",
                            elem_id="melody-vae-roll")
            path_map = gr.Image(type="pil", label="The latent space: corpus melodies (grey) and the path",
                                elem_id="melody-vae-map")
    info = gr.Markdown(elem_id="melody-vae-info")

    gr.Markdown("### Autoencoder and VAE side by side\nThe same two melodies and steps, through the plain autoencoder "
                "and through the chosen VAE (or `best` when the autoencoder is chosen above).")
    compare_button = gr.Button("Compare", elem_id="melody-vae-compare")
    columns = []
    with gr.Row():
        for side in ("autoencoder", "vae"):
            with gr.Column():
                columns += [gr.Audio(type="filepath", format="wav", label=f"{side}: the path"),
                            gr.Image(type="pil", label=f"{side}: piano roll"),
                            gr.Image(type="pil", label=f"{side}: its latent space"),
                            gr.Markdown(elem_id=f"melody-vae-compare-{side}")]

    gr.Markdown("### New melodies from the prior\nCodes drawn from N(0, I) and decoded; temperature 0 takes the "
                "likeliest token at each step, higher temperatures sample.")
    with gr.Row():
        with gr.Column():
            count = gr.Slider(1, MAX_SAMPLES, value=4, step=1, label="Melodies")
            temperature = gr.Slider(0.0, MAX_TEMPERATURE, value=0.0, step=0.05, label="Temperature")
            seed = gr.Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed")
            sample_button = gr.Button("Sample", variant="primary", elem_id="melody-vae-sample")
        with gr.Column():
            sample_audio = gr.Audio(type="filepath", format="wav", label="The samples, one after another",
                                    elem_id="melody-vae-sample-audio")
            sample_midi = gr.File(label="MIDI file")
            sample_roll = gr.Image(type="pil", label="Piano roll")
    sample_info = gr.Markdown(elem_id="melody-vae-sample-info")

    path_inputs = [weights, first, first_file, last, last_file, points, method, first_notes, last_notes]
    path_outputs = [midi_file, audio, roll, path_map, info]
    # A new model: its notes, and no answers of the previous one left on screen as if they were its own
    weights.change(lambda choice: (model_notes(choice), None, None, None, None, "", None, None, None, ""), weights,
                   [model_info, *path_outputs, sample_midi, sample_audio, sample_roll, sample_info], queue=False,
                   api_visibility="private")
    button.click(lambda: (None, None, None, None, ""), None, path_outputs, queue=False, api_visibility="private",
                 ).then(interpolate_melodies, path_inputs, path_outputs, api_name="melody_vae_interpolate", **HEAVY)
    compare_button.click(compare, path_inputs, columns, api_visibility="private", **HEAVY)
    sample_button.click(sample_melodies, [weights, count, temperature, seed],
                        [sample_midi, sample_audio, sample_roll, sample_info], api_name="melody_vae_sample", **HEAVY)
    first_button.click(listen, [weights, first, first_file, first_notes], [first_audio, melody_roll], api_visibility="private",
                       **HEAVY)
    # Enter in a notes box plays that melody, as the Listen button does
    for notes_box, listen_button in ((first_notes, "#melody-vae-listen-first"), (last_notes, "#melody-vae-listen-last")):
        notes_box.submit(None, js=f"() => document.querySelector('{listen_button}').click()")
    last_button.click(listen, [weights, last, last_file, last_notes], [last_audio, melody_roll], api_visibility="private",
                      **HEAVY)
