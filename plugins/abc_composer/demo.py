"""The ABC composer tab: choose a model and how it chooses characters, start a tune, watch it grow, listen.

`compose` streams the tune's text as the model writes it (the model runs in a
worker thread that reports every 32 characters), then returns the ABC text,
the MIDI and WAV files (written straight into Gradio's cache folder, which the
hub sweeps), the piano roll and notes. `compare_models` continues one start
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
from .composing import MAX_CHARACTERS, compare, compose_tune, describe, request_settings, surprisal_html
from .novelty import load_corpus

logger = logging.getLogger("dsl_hub")
FROM_A_TITLE = "(a new tune: start from T:)"


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

    def settings_from(strategy, temperature, top_k, top_p, max_characters) -> TuneSettings:
        return request_settings(strategy=strategy, temperature=temperature, top_k=top_k, top_p=top_p,
                                max_characters=max_characters)

    @user_facing_stream
    def compose(weights: str = choices[0], strategy: str = defaults.strategy, temperature: float = defaults.temperature,
                start: str = "T:", seed: int = 0, top_k: int = defaults.top_k, top_p: float = defaults.top_p,
                max_characters: int = defaults.max_characters):
        """API: write a tune; yields the growing text, then (ABC text, MIDI file, WAV file, piano roll, notes)."""
        demo_model = chosen_model(models, weights)
        settings = settings_from(strategy, temperature, top_k, top_p, max_characters)
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
               tune.roll, describe(tune, settings.strategy))

    @user_facing
    def compare_models(start: str = "T:", strategy: str = defaults.strategy, temperature: float = defaults.temperature,
                       seed: int = 0, top_k: int = defaults.top_k, top_p: float = defaults.top_p):
        """API: the same start continued by every model; HTML with each one's surprisal under its text."""
        settings = settings_from(strategy, temperature, top_k, top_p, MAX_CHARACTERS)
        continuations = compare({label: demo_model.model for label, demo_model in models.items()}, start, settings,
                                seed)
        return "".join(surprisal_html(continuation) for continuation in continuations)

    def pick_opening(name: str):
        return openings.get(name, "T:")

    gr.Markdown(
        "A character-level model writes a folk tune in **ABC notation**, one character at a time, until it ends the "
        "tune; music21 reads the text and FluidSynth plays it. Start from a title (`T:`), from the first bars of a "
        "tune none of the models trained on, or from your own text. *Greedy* takes the likeliest character, "
        "*temperature* samples from the softened or sharpened distribution, *top-k* among the k likeliest, "
        "*top-p* among the likeliest that together have probability p."
    )
    notes = gr.Markdown(model_notes(choices[0]))
    with gr.Row():
        with gr.Column():
            weights = gr.Radio(choices, value=choices[0], label="Model")
            strategy = gr.Radio(list(STRATEGIES), value=defaults.strategy, label="Strategy")
            with gr.Row():
                temperature = gr.Slider(0.05, 3.0, value=defaults.temperature, step=0.05, label="Temperature")
                top_k = gr.Slider(1, 200, value=defaults.top_k, step=1, label="Top-k")
                top_p = gr.Slider(0.05, 1.0, value=defaults.top_p, step=0.01, label="Top-p")
            with gr.Row():
                max_characters = gr.Slider(50, MAX_CHARACTERS, value=defaults.max_characters, step=50,
                                           label="Max characters")
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="Seed")
            opening = gr.Dropdown([FROM_A_TITLE, *openings], value=FROM_A_TITLE,
                                  label="Start from a tune's first bars (validation tunes: never trained on)")
            start = gr.Textbox("T:", lines=5, max_lines=20, label="Start of the tune (ABC)", elem_id="abc-start")
            with gr.Row():
                button = gr.Button("Compose", variant="primary", elem_id="abc-compose")
                compare_button = gr.Button("Compare all models on this start", elem_id="abc-compare")
        with gr.Column():
            text = gr.Textbox(label="The tune (ABC)", lines=16, max_lines=40, elem_id="abc-text")
            audio = gr.Audio(type="filepath", format="wav", label="Listen", elem_id="abc-audio")
            with gr.Row():
                abc_file = gr.File(label="ABC file", elem_id="abc-file")
                midi_file = gr.File(label="MIDI file", elem_id="abc-midi")
            roll = gr.Image(type="pil", label="Piano roll (the start blue-grey, new notes orange)", elem_id="abc-roll")
            info = gr.Markdown(elem_id="abc-info")
    gr.Markdown("### Comparison: the same start, every model\nEach model continues the start (at most 300 "
                "characters, the settings and seed above) and reads its text back: the bar under a character is its "
                "surprisal, -log2 p, up to 8 bits (hover for the number); the start is in bold.")
    comparison = gr.HTML(elem_id="abc-comparison")

    button.click(compose, [weights, strategy, temperature, start, seed, top_k, top_p, max_characters],
                 [text, abc_file, midi_file, audio, roll, info], api_name="abc_composer_compose", **HEAVY)
    compare_button.click(compare_models, [start, strategy, temperature, seed, top_k, top_p], comparison,
                         api_name="abc_composer_compare", **HEAVY)
    opening.change(pick_opening, opening, start, api_visibility="private")
    weights.change(model_notes, weights, notes, api_visibility="private")
