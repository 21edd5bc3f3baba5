"""The ABC composer tab: choose a model and how it chooses characters, start a tune, watch it grow, listen.

`compose` streams the tune's text as the model writes it (the model runs in a
worker thread that reports every 32 characters), then returns the ABC text,
the MIDI and WAV files (written straight into Gradio's cache folder, which the
hub sweeps), the piano roll (its playhead follows the audio player:
plugins.piano_roll) and notes, which warn when the tune loops. Model, strategy,
start and Compose fit the first screen, with clickable tune openings; the
sampling settings and greedy's remedies against loops wait in an accordion. `compare_models` continues one start
with every model and draws each one's surprisal under its text. Both are thin
layers over `composing`.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import uuid
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from models.char_lm import STRATEGIES, TuneSettings

from ..errors import UnusableInputError
from ..lstm_composer.audio import write_wav
from ..serving import DemoModel, chosen_model
from ..ui import HEAVY, user_facing
from ..piano_roll import PLAIN_PLAYER, PianoRoll
from .composing import (
    DEFAULT_REMEDIES, MAX_CHARACTERS, MAX_NGRAM, MAX_REPETITION_PENALTY, MIN_NGRAM, RequestSettings, compare,
    compose_tune, describe, request_settings, surprisal_html,
)
from .novelty import load_corpus

logger = logging.getLogger("dsl_hub")
FROM_A_TITLE = "(a new tune: start from T:)"
# Openings of validation tunes (never trained on) offered as clickable examples, when the shipped corpus has them.
EXAMPLE_OPENINGS = ("The Campbell's are coming.", "The Irish Hautboy.", "Bung Your Eye.", "The Bath Medley")


def user_facing_stream(function):
    """`plugins.ui.user_facing` for a generator callback: the same readable errors, raised while it streams."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            yield from function(*args, **kwargs)
        except UnusableInputError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except gr.Error:
            raise
        except Exception:
            logger.exception("demo callback %s failed", function.__name__)
            raise gr.Error("Something went wrong on the server while handling this request; "
                           "it has been logged. Try other settings or another start.", print_exception=False) from None

    return wrapper


def new_output_folder() -> Path:
    folder = Path(get_upload_folder()) / f"abc-composer-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    return folder


def build_tab(plugin, models: dict[str, DemoModel]) -> None:
    choices = list(models)
    corpora = {label: load_corpus(demo_model.folder) for label, demo_model in models.items()}
    shared = next((corpus for corpus in corpora.values() if corpus is not None), None)
    openings = dict(shared.openings) if shared is not None else {}
    defaults = TuneSettings()

    def model_notes(choice: str) -> str:
        demo_model = models[choice]
        config = demo_model.model.config
        size = sum(parameter.numel() for parameter in demo_model.model.parameters())
        return (f"**{choice}**: {config.cell}, {size / 1e6:.2f} M parameters; "
                f"{demo_model.headline() or 'no measured figures in its folder'}. Weights: {demo_model.source}.")

    def settings_from(strategy, temperature, top_k, top_p, max_characters, repetition_penalty,
                      no_repeat_ngram_size) -> RequestSettings:
        return request_settings(strategy=strategy, temperature=temperature, top_k=top_k, top_p=top_p,
                                max_characters=max_characters, repetition_penalty=repetition_penalty,
                                no_repeat_ngram_size=no_repeat_ngram_size)

    @user_facing_stream
    def compose(weights: str = choices[0], strategy: str = defaults.strategy, temperature: float = defaults.temperature,
                start: str = "T:", seed: int = 0, top_k: int = defaults.top_k, top_p: float = defaults.top_p,
                max_characters: int = defaults.max_characters,
                repetition_penalty: float = DEFAULT_REMEDIES["repetition_penalty"],
                no_repeat_ngram_size: int = DEFAULT_REMEDIES["no_repeat_ngram_size"]):
        """API: write a tune; yields the growing text, then (ABC text, ABC file, MIDI file, WAV file, piano roll
        {"image", "start", "end": seconds of the audio it spans}, notes). repetition_penalty (1 = off, at most 2)
        and no_repeat_ngram_size (characters; 0 = off, else 4 to 200) apply to greedy decoding."""
        demo_model = chosen_model(models, weights)
        settings = settings_from(strategy, temperature, top_k, top_p, max_characters, repetition_penalty,
                                 no_repeat_ngram_size)
        corpus = corpora.get(weights) or shared
        grown: queue.Queue = queue.Queue()
        outcome: dict = {}

        def work():
            try:
                outcome["tune"] = compose_tune(demo_model.model, corpus, settings, start=start, seed=seed,
                                               on_text=grown.put)
            except BaseException as error:  # handed to the request's thread, which raises it
                outcome["error"] = error
            grown.put(None)

        threading.Thread(target=work, daemon=True).start()
        while (text := grown.get()) is not None:
            yield text, None, None, None, None, "*writing…*"
        if "error" in outcome:
            raise outcome["error"]
        tune = outcome["tune"]
        folder = new_output_folder()
        abc_path = folder / f"abc-composer-seed{int(seed)}.abc"
        abc_path.write_text(tune.text + "\n")
        midi_path = wav_path = None
        if tune.playable:
            midi_path, wav_path = folder / f"abc-composer-seed{int(seed)}.mid", folder / f"abc-composer-seed{int(seed)}.wav"
            midi_path.write_bytes(tune.midi)
            write_wav(wav_path, tune.rendering)
        yield (tune.text, str(abc_path), str(midi_path) if midi_path else None, str(wav_path) if wav_path else None,
               tune.roll, describe(tune, settings))

    @user_facing
    def compare_models(start: str = "T:", strategy: str = defaults.strategy, temperature: float = defaults.temperature,
                       seed: int = 0, top_k: int = defaults.top_k, top_p: float = defaults.top_p,
                       repetition_penalty: float = DEFAULT_REMEDIES["repetition_penalty"],
                       no_repeat_ngram_size: int = DEFAULT_REMEDIES["no_repeat_ngram_size"]):
        """API: the same start continued by every model; HTML with each one's surprisal under its text."""
        settings = settings_from(strategy, temperature, top_k, top_p, MAX_CHARACTERS, repetition_penalty,
                                 no_repeat_ngram_size)
        continuations = compare({label: demo_model.model for label, demo_model in models.items()}, start, settings,
                                seed)
        return "".join(surprisal_html(continuation) for continuation in continuations)

    def pick_opening(name: str):
        return openings.get(name, "T:")

    gr.Markdown(
        "A character-level model writes a folk tune in **ABC notation**, one character at a time, until it ends the "
        "tune; music21 reads it and FluidSynth plays it. Start from a title (`T:`), a tune none of the models trained "
        "on, or your own text. *Greedy* takes the likeliest character (it loops; *More settings* has remedies), "
        "*temperature* samples from the softened distribution, *top-k* among the k likeliest, *top-p* among the "
        "likeliest that together have probability p."
    )
    notes = gr.Markdown(model_notes(choices[0]))
    with gr.Row(equal_height=False):
        with gr.Column():
            with gr.Row():
                weights = gr.Dropdown(choices, value=choices[0], label="Model", scale=2, elem_id="abc-model")
                max_characters = gr.Slider(50, MAX_CHARACTERS, value=defaults.max_characters, step=50,
                                           label="Max characters", scale=2, elem_id="abc-max-characters")
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="Seed", scale=1,
                                 min_width=80)
            strategy = gr.Radio(list(STRATEGIES), value=defaults.strategy, label="Strategy", elem_id="abc-strategy")
            opening = gr.Dropdown([FROM_A_TITLE, *openings], value=FROM_A_TITLE,
                                  label="Start from a tune's first bars (validation tunes: never trained on)")
            start = gr.Textbox("T:", lines=4, max_lines=20, label="Start of the tune (ABC)", elem_id="abc-start")
            with gr.Row():
                button = gr.Button("Compose", variant="primary", elem_id="abc-compose")
                compare_button = gr.Button("Compare all models on this start", elem_id="abc-compare")
            gr.Examples([[name, openings[name]] for name in EXAMPLE_OPENINGS if name in openings], [opening, start],
                        example_labels=[name for name in EXAMPLE_OPENINGS if name in openings],
                        label="Examples: tune openings (click one, then Compose)", elem_id="abc-examples")
            with gr.Accordion("More settings: temperature, top-k, top-p, remedies against loops", open=False,
                              elem_id="abc-more"):
                with gr.Row():
                    temperature = gr.Slider(0.05, 3.0, value=defaults.temperature, step=0.05, label="Temperature")
                    top_k = gr.Slider(1, 200, value=defaults.top_k, step=1, label="Top-k")
                    top_p = gr.Slider(0.05, 1.0, value=defaults.top_p, step=0.01, label="Top-p")
                with gr.Row():
                    repetition_penalty = gr.Slider(1.0, MAX_REPETITION_PENALTY,
                                                   value=DEFAULT_REMEDIES["repetition_penalty"], step=0.05,
                                                   label="Repetition penalty (greedy; 1 = off)",
                                                   elem_id="abc-repetition-penalty")
                    no_repeat_ngram_size = gr.Slider(0, MAX_NGRAM, value=DEFAULT_REMEDIES["no_repeat_ngram_size"],
                                                     step=1, label="No repeated n-grams of this many characters "
                                                                   f"(greedy; 0 = off, else at least {MIN_NGRAM})",
                                                     elem_id="abc-no-repeat-ngram")
        with gr.Column():
            text = gr.Textbox(label="The tune (ABC)", lines=10, max_lines=40, elem_id="abc-text")
            audio = gr.Audio(type="filepath", format="wav", label="Listen", waveform_options=PLAIN_PLAYER,
                             elem_id="abc-audio")
            roll = PianoRoll(audio, label="Piano roll (the start blue-grey, new notes orange; click it to play from "
                                          "there)", elem_id="abc-roll")
            info = gr.Markdown(elem_id="abc-info")
            with gr.Row():
                abc_file = gr.File(label="ABC file", elem_id="abc-file")
                midi_file = gr.File(label="MIDI file", elem_id="abc-midi")
    gr.Markdown("### Comparison: the same start, every model\nEach model continues the start (at most 300 "
                "characters, the settings and seed above) and reads its text back: the bar under a character is its "
                "surprisal, -log2 p, up to 8 bits (hover for the number); the start is in bold.")
    comparison = gr.HTML(elem_id="abc-comparison")

    button.click(compose, [weights, strategy, temperature, start, seed, top_k, top_p, max_characters,
                           repetition_penalty, no_repeat_ngram_size],
                 [text, abc_file, midi_file, audio, roll, info], api_name="abc_composer_compose", **HEAVY)
    compare_button.click(compare_models, [start, strategy, temperature, seed, top_k, top_p, repetition_penalty,
                                          no_repeat_ngram_size], comparison, api_name="abc_composer_compare", **HEAVY)
    opening.change(pick_opening, opening, start, api_visibility="private")
    weights.change(model_notes, weights, notes, api_visibility="private")
