"""The composer tab: choose how adventurous the model should be, press Compose, listen.

The callback is a thin wrapper over `composing.compose_piece`; it only writes
the WAV and MIDI files Gradio serves, straight into Gradio's own cache folder so
that each exists once (a file elsewhere is copied there), where the hub's
sweeper bounds and removes it (plugins.tempfiles).

Pressing Compose (or Enter in the melody box) first clears the last piece, so
an error never shows beside (or over) a piece it did not make. A primer a
person gives selects itself: uploading a MIDI file, clicking an example (a
fresh copy of one of examples/, see its README) or playing or typing a melody
(plugins.melody_entry's keyboard and note names). The piano roll's playhead
follows the audio player (plugins.piano_roll). Model, strategy, primer, length
and Compose fit the first screen; the other settings wait in an accordion.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from models.lstm_composer.modeling_lstm_composer import STRATEGIES, ComposeSettings

from ..errors import UnusableInputError
from ..melody_entry import keyboard
from ..piano_roll import PLAIN_PLAYER, PianoRoll
from ..serving import DemoModel
from ..ui import HEAVY, user_facing
from .audio import GM_PROGRAMS, write_wav
from .composing import (
    MAX_BEAMS, MAX_LENGTH, MAX_NGRAM, MAX_REPETITION_PENALTY, Remedies, compose_piece, default_remedies, describe,
    request_settings,
)
from .novelty import load_corpus

PRIMER_CHOICES = [("random notes", "random"), ("a corpus piece", "corpus"), ("your MIDI file", "upload"),
                  ("your melody", "melody")]
EXAMPLES = Path(__file__).parent / "examples"  # where they come from: examples/README.md
EXAMPLE_PRIMERS = [  # (shown name, file)
    ("Bach, chorale “Ein feste Burg”, BWV 80.8: 4 bars", "bach_chorale_bwv80.8_opening.mid"),
    ("Bach, chorale BWV 437: 4 bars", "bach_chorale_bwv437_opening.mid"),
    ("O'Neill's (1850), The Castle of Dromore: 6 bars", "oneills_the_castle_of_dromore_opening.mid"),
    ("O'Neill's (1850), The Little Red Lark: 6 bars", "oneills_the_little_red_lark_opening.mid"),
]


def new_output_paths(seed: int) -> tuple[Path, Path]:
    """A WAV and a MIDI path of their own inside Gradio's cache folder (which Gradio serves without copying)."""
    folder = Path(get_upload_folder()) / f"lstm-composer-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    stem = f"lstm-composer-seed{seed}"
    return folder / f"{stem}.wav", folder / f"{stem}.mid"


def instrument_name(program: int) -> str:
    return next((name for name, number in GM_PROGRAMS.items() if number == program), "Acoustic Grand Piano")


def build_tab(plugin, models: dict[str, DemoModel]) -> None:
    choices = list(models)
    corpora = {label: load_corpus(demo_model.folder) for label, demo_model in models.items()}
    first = models[choices[0]].model
    pieces = list(corpora[choices[0]].primers) if corpora[choices[0]] is not None else []
    defaults = ComposeSettings()  # the model's defaults, which the card's figures were measured with
    remedies = default_remedies(first)

    def model_notes(choice: str) -> str:
        demo_model = models[choice]
        headline = demo_model.headline()
        codec = "rhythm kept (performance codec)" if demo_model.model.config.codec == "performance" else \
            "the lecture's chord codec (rhythm dropped)"
        return (f"**{choice}**: {headline or 'no measured figures in its folder'}; {codec}. "
                f"Weights: {demo_model.source}.")

    @user_facing
    def compose(weights: str = choices[0], strategy: str = defaults.strategy,
                temperature: float = defaults.temperature, top_k: int = defaults.top_k,
                top_p: float = defaults.top_p, num_beams: int = defaults.num_beams,
                length: int = defaults.num_tokens, seed: int = 0, primer_source: str = "random",
                corpus_piece: str | None = None, primer=None,
                instrument: str = instrument_name(first.config.program), tempo: float = first.config.tempo_bpm,
                repetition_penalty: float = remedies.repetition_penalty,
                no_repeat_ngram_size: int = remedies.no_repeat_ngram_size, melody: str = "",
                progress=gr.Progress()):
        """API: compose a piece; returns (WAV file, MIDI file, piano roll {"image", "start", "end": seconds of the
        audio it spans}, notes on novelty, repetition and timing).

        A primer the request sends is used unless primer_source names another: an uploaded MIDI `primer`, or a
        `melody` typed as note names ("C4 D4 E4 G4:2 . E4": a letter, # or b, an octave, C4 = middle C; "." a
        rest; ":beats" a length; at most 64 items). repetition_penalty (1 = off, at most 2) and
        no_repeat_ngram_size (0 = off, else 3 to 64 tokens) apply to greedy and beam search."""
        if weights not in models:
            raise UnusableInputError(f"Unknown model {str(weights)[:60]!r}; choose one of: {', '.join(choices)}.")
        settings = request_settings(num_tokens=length, strategy=strategy, temperature=temperature, top_k=top_k,
                                    top_p=top_p, num_beams=num_beams)
        chosen_remedies = Remedies(repetition_penalty=repetition_penalty, no_repeat_ngram_size=no_repeat_ngram_size)
        piece = compose_piece(
            models[weights].model, corpora[weights], settings, chosen_remedies, seed=seed, primer_source=primer_source,
            corpus_piece=corpus_piece, primer=primer, instrument=instrument, tempo=tempo, melody=melody,
            progress=progress,
        )
        wav_path, midi_path = new_output_paths(int(seed))
        write_wav(wav_path, piece.rendering)
        midi_path.write_bytes(piece.midi)
        return str(wav_path), str(midi_path), piece.roll, describe(piece, settings.strategy)

    def show_model(choice: str, ngram_size: float):
        corpus = corpora.get(choice)
        names = list(corpus.primers) if corpus is not None else []
        # n-grams count tokens, and the codecs' notes differ in tokens: the new model's size, unless set off
        size = default_remedies(models[choice].model).no_repeat_ngram_size if ngram_size else 0
        return model_notes(choice), gr.update(choices=names, value=names[0] if names else None), size

    def use_example(index: int):
        """A fresh copy of an example primer in Gradio's cache folder (the hub sweeps old files there, so a copy
        made when the page was built would be gone an hour later), selected as the primer."""
        if not isinstance(index, int) or not 0 <= index < len(EXAMPLE_PRIMERS):
            raise gr.Error("Pick one of the examples.", print_exception=False)
        source = EXAMPLES / EXAMPLE_PRIMERS[index][1]
        folder = Path(get_upload_folder()) / f"lstm-composer-example-{uuid.uuid4().hex}"
        folder.mkdir(parents=True)
        copy = folder / source.name
        copy.write_bytes(source.read_bytes())
        return str(copy), "upload"

    gr.Markdown(
        "An LSTM composes music one token at a time from a **primer** (random notes, a piece it never trained on, "
        "your MIDI file or a melody you play): *greedy* takes the likeliest token (it loops, as the lecture found; "
        "*More settings* has remedies), *sample* draws from the model, *adaptive* heats up when the music repeats "
        "itself, *beam* keeps the likeliest few continuations."
    )
    notes = gr.Markdown(model_notes(choices[0]))
    with gr.Row(equal_height=False):
        with gr.Column():
            with gr.Row():
                weights = gr.Dropdown(choices, value=choices[0], label="Model", scale=2, elem_id="composer-model")
                length = gr.Slider(16, MAX_LENGTH, value=defaults.num_tokens, step=16, label="Length (new tokens)",
                                   scale=2, elem_id="composer-length")
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="Seed", scale=1,
                                 min_width=80)
            strategy = gr.Radio(list(STRATEGIES), value=defaults.strategy, label="Strategy",
                                elem_id="composer-strategy")
            primer_source = gr.Radio(PRIMER_CHOICES, value="random", label="Primer", elem_id="composer-primer-source")
            with gr.Row(equal_height=True):
                corpus_piece = gr.Dropdown(pieces, value=pieces[0] if pieces else None,
                                           label="Corpus piece (never trained on)", elem_id="composer-corpus-piece")
                primer = gr.File(label="Your MIDI file (at most 5 MB)", file_types=[".mid", ".midi"], type="filepath",
                                 height=100, elem_id="composer-primer")
            melody = gr.Textbox("", max_lines=1, elem_id="composer-melody",
                                label="Your melody: play it below or type it (C4 = middle C, . a rest, :2 two beats)",
                                placeholder="C4 D4 E4 G4:2 . E4:1/2 D4:1/2 C4:2   (Enter composes)")
            keyboard(melody, elem_id="composer-keyboard")
            button = gr.Button("Compose", variant="primary", elem_id="composer-compose")
            examples = gr.Dataset(components=[gr.Textbox(render=False)],
                                  samples=[[name] for name, _ in EXAMPLE_PRIMERS], type="index",
                                  label="Examples: openings of corpus pieces it never trained on (click one, then "
                                        "Compose)", elem_id="composer-examples")
            with gr.Accordion("More settings: sampling, beams, remedies against loops, instrument, tempo", open=False,
                              elem_id="composer-more"):
                with gr.Row():
                    temperature = gr.Slider(0.05, 5.0, value=defaults.temperature, step=0.05, label="Temperature")
                    top_k = gr.Slider(0, 200, value=defaults.top_k, step=1, label="Top-k (0 = off)")
                with gr.Row():
                    top_p = gr.Slider(0.05, 1.0, value=defaults.top_p, step=0.01, label="Top-p")
                    num_beams = gr.Slider(1, MAX_BEAMS, value=defaults.num_beams, step=1, label="Beams (beam search)")
                with gr.Row():
                    repetition_penalty = gr.Slider(1.0, MAX_REPETITION_PENALTY, value=remedies.repetition_penalty,
                                                   step=0.05, label="Repetition penalty (greedy, beam; 1 = off)",
                                                   elem_id="composer-repetition-penalty")
                    no_repeat_ngram_size = gr.Slider(0, MAX_NGRAM, value=remedies.no_repeat_ngram_size, step=1,
                                                     label="No repeated n-grams of this many tokens (greedy, beam; "
                                                           "0 = off, else at least 3)",
                                                     elem_id="composer-no-repeat-ngram")
                with gr.Row():
                    instrument = gr.Dropdown(list(GM_PROGRAMS), value=instrument_name(first.config.program),
                                             label="Instrument")
                    tempo = gr.Slider(30, 300, value=first.config.tempo_bpm, step=1, label="Tempo (BPM)")
        with gr.Column():
            audio = gr.Audio(type="filepath", format="wav", label="Listen", waveform_options=PLAIN_PLAYER,
                             elem_id="composer-audio")
            roll = PianoRoll(audio, label="Piano roll (primer blue-grey, new notes orange; click it to play from "
                                          "there)", elem_id="composer-piano-roll")
            info = gr.Markdown(elem_id="composer-info")
            midi_file = gr.File(label="MIDI file", elem_id="composer-midi")

    outputs = [audio, midi_file, roll, info]
    inputs = [weights, strategy, temperature, top_k, top_p, num_beams, length, seed, primer_source, corpus_piece,
              primer, instrument, tempo, repetition_penalty, no_repeat_ngram_size, melody]
    clear = {"fn": lambda: (None, None, None, ""), "inputs": None, "outputs": outputs, "queue": False,
             "api_visibility": "private"}
    button.click(**clear).then(compose, inputs, outputs, api_name="lstm_composer_compose", **HEAVY)
    melody.submit(None, js="() => document.querySelector('#composer-compose').click()")  # Enter composes
    weights.change(show_model, [weights, no_repeat_ngram_size], [notes, corpus_piece, no_repeat_ngram_size],
                   api_visibility="private")
    # A primer a person gives (a file, a melody) is what they mean to continue: giving one selects it, clearing
    # the file goes back to random notes, and choosing random notes drops both (the server composes from what it
    # is sent unless another source is named).
    primer.upload(lambda: "upload", None, primer_source, queue=False, api_visibility="private")
    primer.clear(lambda source: "random" if source == "upload" else source, primer_source, primer_source,
                 queue=False, api_visibility="private")
    melody.change(None, [melody, primer_source], primer_source, api_visibility="private",
                  js="(text, source) => text.trim() ? 'melody' : (source === 'melody' ? 'random' : source)")
    primer_source.input(lambda source: (None, "") if source == "random" else (gr.update(), gr.update()),
                        primer_source, [primer, melody], queue=False, api_visibility="private")
    examples.click(use_example, examples, [primer, primer_source], queue=False, api_visibility="private")
