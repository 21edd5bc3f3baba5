"""The composer tab: choose how adventurous the model should be, press Compose, listen.

The callback is a thin wrapper over `composing.compose_piece`; it only writes
the WAV and MIDI files Gradio serves, straight into Gradio's own cache folder so
that each exists once (a file elsewhere is copied there), where the hub's
sweeper bounds and removes it (plugins.tempfiles).

Pressing Compose first clears the last piece, so an error never shows beside
(or over) a piece it did not make; uploading a MIDI file selects it as the primer.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from models.lstm_composer.modeling_lstm_composer import STRATEGIES, ComposeSettings

from ..errors import UnusableInputError
from ..serving import DemoModel
from ..ui import HEAVY, user_facing
from .audio import GM_PROGRAMS, write_wav
from .composing import (
    MAX_BEAMS, MAX_LENGTH, MAX_NGRAM, MAX_REPETITION_PENALTY, PRIMER_SOURCES, Remedies, compose_piece,
    default_remedies, describe, request_settings,
)
from .novelty import load_corpus


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
                no_repeat_ngram_size: int = remedies.no_repeat_ngram_size, progress=gr.Progress()):
        """API: compose a piece; returns (WAV file, MIDI file, piano roll, notes on novelty, repetition and timing).

        An uploaded `primer` is used unless primer_source is "corpus". repetition_penalty (1 = off, at most 2) and
        no_repeat_ngram_size (0 = off, else 3 to 64 tokens) apply to greedy and beam search."""
        if weights not in models:
            raise UnusableInputError(f"Unknown model {str(weights)[:60]!r}; choose one of: {', '.join(choices)}.")
        settings = request_settings(num_tokens=length, strategy=strategy, temperature=temperature, top_k=top_k,
                                    top_p=top_p, num_beams=num_beams)
        chosen_remedies = Remedies(repetition_penalty=repetition_penalty, no_repeat_ngram_size=no_repeat_ngram_size)
        piece = compose_piece(
            models[weights].model, corpora[weights], settings, chosen_remedies, seed=seed, primer_source=primer_source,
            corpus_piece=corpus_piece, primer=primer, instrument=instrument, tempo=tempo, progress=progress,
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

    gr.Markdown(
        "An LSTM composes music one token at a time, carrying its memory from step to step. Choose a **primer** "
        "(a few random notes, the opening of a piece it never trained on, or your own MIDI file), how adventurous "
        "it should be, and press **Compose**. *Greedy* always takes the likeliest next token (it tends to loop), "
        "*sample* draws from the model's distribution (temperature, top-k, top-p), *adaptive* is the lecture's "
        "temperature that rises when the music repeats itself, *beam* keeps the likeliest few continuations. "
        "Greedy and beam search come with transformers' remedies against loops, a repetition penalty and no "
        "repeated n-grams (set both off to hear the lecture's loop)."
    )
    notes = gr.Markdown(model_notes(choices[0]))
    with gr.Row():
        with gr.Column():
            weights = gr.Radio(choices, value=choices[0], label="Model")
            strategy = gr.Radio(list(STRATEGIES), value=defaults.strategy, label="Strategy",
                                elem_id="composer-strategy")
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
                                                 label="No repeated n-grams of this many tokens (greedy, beam; 0 = "
                                                       "off, else at least 3)", elem_id="composer-no-repeat-ngram")
            with gr.Row():
                length = gr.Slider(16, MAX_LENGTH, value=defaults.num_tokens, step=16, label="Length (new tokens)",
                                   elem_id="composer-length")
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="Seed")
            primer_source = gr.Radio(list(PRIMER_SOURCES), value="random", label="Primer",
                                     elem_id="composer-primer-source")
            corpus_piece = gr.Dropdown(pieces, value=pieces[0] if pieces else None, label="Corpus piece (for 'corpus')")
            primer = gr.File(label="Your MIDI primer (uploading one makes it the primer; at most 5 MB)",
                             file_types=[".mid", ".midi"], type="filepath", elem_id="composer-primer")
            with gr.Row():
                instrument = gr.Dropdown(list(GM_PROGRAMS), value=instrument_name(first.config.program),
                                         label="Instrument")
                tempo = gr.Slider(30, 300, value=first.config.tempo_bpm, step=1, label="Tempo (BPM)")
            button = gr.Button("Compose", variant="primary", elem_id="composer-compose")
        with gr.Column():
            audio = gr.Audio(type="filepath", format="wav", label="Listen", elem_id="composer-audio")
            midi_file = gr.File(label="MIDI file", elem_id="composer-midi")
            roll = gr.Image(type="pil", label="Piano roll (primer blue-grey, new notes orange)",
                            elem_id="composer-piano-roll")
            info = gr.Markdown(elem_id="composer-info")

    outputs = [audio, midi_file, roll, info]
    button.click(
        lambda: (None, None, None, ""), None, outputs, queue=False, api_visibility="private",
    ).then(
        compose,
        [weights, strategy, temperature, top_k, top_p, num_beams, length, seed, primer_source, corpus_piece, primer,
         instrument, tempo, repetition_penalty, no_repeat_ngram_size],
        outputs,
        api_name="lstm_composer_compose", **HEAVY,
    )
    weights.change(show_model, [weights, no_repeat_ngram_size], [notes, corpus_piece, no_repeat_ngram_size],
                   api_visibility="private")
    # An uploaded file is what a person means to continue; clearing it goes back to random notes, and choosing
    # random notes drops the file (the server composes from a file it is sent unless "corpus" is chosen).
    primer.upload(lambda: "upload", None, primer_source, queue=False, api_visibility="private")
    primer.clear(lambda source: "random" if source == "upload" else source, primer_source, primer_source,
                 queue=False, api_visibility="private")
    primer_source.input(lambda source: None if source == "random" else gr.update(), primer_source, primer,
                        queue=False, api_visibility="private")
