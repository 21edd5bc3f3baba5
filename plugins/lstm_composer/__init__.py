"""The `lstm-composer` plugin: an LSTM that learns MIDI and composes music you can hear in the browser."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
from torch.nn import functional as F

from models.lstm_composer import ComposeSettings, LstmComposerConfig, LstmComposerForCausalLM
from models.lstm_composer.midi_codec import PAD, PerformanceCodec, midi_bytes

from ..base import DataSplits, Plugin, SpaceCard, TrainingParts, TrainingRecipe
from ..registry import register_plugin
from .audio import render, shortened, write_wav
from .data import load_corpus, synthetic_corpus
from .fast_step import install_fast_step
from .novelty import NGRAM_SIZES, NoveltyIndex, mean_and_error, piece_shape, save_corpus
from .presets import PRESETS

SAMPLE_SEED = 0
SAMPLE_SECONDS = 30.0  # the card's WAV sample stops here (with a fade); its MIDI file has the whole piece
DATA_LICENCE = (
    "The hub's MIDI corpus holds Standard MIDI Files converted with music21 10.5.1 from the scores bundled in "
    "music21's corpus (Bach chorales, Mozart and Beethoven quartet movements, O'Neill's Music of Ireland 1850, "
    "Ryan's Mammoth Collection 1883); the training data line below says which folders a model saw. "
    "The compositions are in the public domain; music21's corpus notice says the encodings are distributed with "
    "the permission of their encoders and, to the best of its authors' knowledge, each piece is out of copyright in "
    "the United States or licensed for use, possibly with restrictions on commercial use (see "
    "`music21/corpus/license.txt` and the licences inside individual files). The model's code is MIT-licensed."
)


def transposition_shifts(recipe: TrainingRecipe) -> range | None:
    """The recipe's `transpose` option [low, high] (semitones) as a range, or None."""
    bounds = recipe.options.get("transpose")
    return range(bounds[0], bounds[1] + 1) if bounds else None


@torch.no_grad()
def chunk_statistics(model, dataloader, accelerator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per validation chunk: summed negative log-likelihood, correct next-token guesses, predicted tokens."""
    was_training = model.training
    model.eval()
    nll, correct, counts = [], [], []
    for batch in dataloader:
        input_ids = batch["input_ids"]
        logits = model(input_ids=input_ids).logits[:, :-1].float()  # (batch, window, vocab)
        targets = input_ids[:, 1:]
        mask = targets != PAD
        token_nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (batch, window)
        stats = torch.stack([(token_nll * mask).sum(1), ((logits.argmax(-1) == targets) & mask).sum(1).float(),
                             mask.sum(1).float()], dim=1)
        stats = accelerator.gather_for_metrics(stats)
        nll.append(stats[:, 0].cpu())
        correct.append(stats[:, 1].cpu())
        counts.append(stats[:, 2].cpu())
    model.train(was_training)
    return torch.cat(nll).double(), torch.cat(correct).double(), torch.cat(counts).double()


def ratio_and_error(sums: torch.Tensor, counts: torch.Tensor) -> tuple[float, float]:
    """sum(sums) / sum(counts) and its standard error, treating chunks as the independent units."""
    keep = counts > 0
    sums, counts = sums[keep], counts[keep]
    ratio = float(sums.sum() / counts.sum())
    chunks = len(counts)
    if chunks < 2:
        return ratio, float("nan")
    residual = sums - ratio * counts
    error = math.sqrt(float((residual ** 2).sum()) / (chunks * (chunks - 1))) / float(counts.mean())
    return ratio, error


@register_plugin
class LstmComposerPlugin(Plugin):
    name = "lstm-composer"
    title = "Composer (LSTM on MIDI)"
    description = (
        "An LSTM that learned music from MIDI files and composes new pieces you can hear, see as a piano roll and "
        "download as MIDI. The presets reproduce the lecture's chord-token networks (1304-example-04 and 05); the "
        "default model keeps the rhythm with a note/duration/time-shift codec and composes one token per LSTM step."
    )
    config_class = LstmComposerConfig
    model_class = LstmComposerForCausalLM
    presets = PRESETS
    order = 30  # the hub's tab order: the lecture's
    lecture = ("Kai-Feng Chen (NTU), *Deep Structured Learning*: recurrent networks and the AI composer, "
               "the scripts 1304-example-02 to 05a (MIDI, an LSTM, greedy and temperature sampling)")
    space = SpaceCard(
        title="Composer: an LSTM that writes music", tagline="An LSTM trained on Bach chorales and folk tunes composes",
        emoji="🎼", color_from="yellow", color_to="red",
        summary="Press Compose and listen: a stacked LSTM trained on Bach chorales and folk tunes writes new music "
                "one token at a time, keeping the rhythm the lecture's chord codec dropped. Choose how adventurous "
                "it is (temperature, top-k, top-p, the lecture's adaptive temperature, beam search), start it from a "
                "corpus piece or your own MIDI file, hear it rendered with fluidsynth and download the MIDI.",
        system_packages=("fluidsynth", "fluid-soundfont-gm", "gcc", "libc6-dev"),
    )
    default_preset = "best"
    # A model of MIDI event tokens with its own `compose` (no tokenizer, no `generate`): loading it as a
    # causal LM, or running the text-generation pipeline, would promise an API it does not have.
    auto_class = "AutoModel"
    # No Hub pipeline matches "MIDI tokens in, a MIDI file out" (text-generation would promise a tokenizer and
    # `generate`): "other", with tags that say what it does.
    card_metadata = {
        "license": "mit",
        "pipeline_tag": "other",
        "tags": ["music-generation", "midi", "lstm", "symbolic-music", "pytorch"],
    }
    demo_weights = {"best (ours, rhythm kept)": "lstm-composer",
                    "lecture-04 (the lecture's chords, folk tunes)": "lstm-composer-lecture-04"}

    # -------------------------------------------------------------- data
    def load_data(self, data_dir, preset, seed):
        return load_corpus(data_dir, preset)

    def synthetic_data(self, preset, num_examples=64, seed=0):
        return synthetic_corpus(preset, num_examples, seed)

    def build_config(self, preset, data: DataSplits):
        options = dict(preset.model)
        if options.get("codec") == "lecture":
            options["vocabulary"] = data.extras["vocabulary"]
        else:
            codec = PerformanceCodec(options.get("steps_per_beat", 12), options.get("max_shift_steps", 48),
                                     options.get("max_duration_steps", 96))
            options["vocabulary"] = codec.vocabulary
        return LstmComposerConfig(**options)

    # ---------------------------------------------------------- training
    def _transposition_table(self, model, shifts: range, device) -> torch.Tensor:
        key = (shifts.start, shifts.stop, str(device))
        if getattr(self, "_table_key", None) != key:
            self._table = torch.tensor(model.codec.transposition_table(shifts), device=device)
            self._table_key = key
        return self._table

    def training_step(self, parts: TrainingParts, batch, accelerator, recipe: TrainingRecipe):
        input_ids = batch["input_ids"]  # (batch, window + 1)
        shifts = transposition_shifts(recipe)
        model = accelerator.unwrap_model(parts.model)
        if shifts is not None and model.config.codec == "performance":
            # Each chunk in a random key; drawn from the global torch RNG so a resumed run draws the same.
            table = self._transposition_table(model, shifts, input_ids.device)
            choice = torch.randint(len(shifts), (input_ids.shape[0],)).to(input_ids.device)
            input_ids = table[choice[:, None], input_ids]
        labels = input_ids.masked_fill(input_ids == PAD, -100)
        outputs = parts.model(input_ids=input_ids, labels=labels)
        parts.update("model", outputs.loss, accelerator, recipe)
        with torch.no_grad():
            predicted = outputs.logits[:, :-1].argmax(-1)
            mask = labels[:, 1:] != -100
            accuracy = ((predicted == labels[:, 1:]) & mask).sum() / mask.sum().clamp(min=1)
        return {"loss": outputs.loss.detach(), "accuracy": accuracy.detach()}

    def evaluate(self, parts, dataloader, accelerator):
        nll, correct, counts = chunk_statistics(parts.model, dataloader, accelerator)
        loss = float(nll.sum() / counts.sum())
        return {"loss": loss, "perplexity": math.exp(loss), "accuracy": float(correct.sum() / counts.sum())}

    # ------------------------------------------------------------ report
    def final_report(self, model, data, output_dir, accelerator):
        """Validation loss, perplexity and accuracy with errors; novelty, rhythm and loops at the default
        settings; the corpus file the demo needs; a sample piece as MIDI and WAV."""
        dataloader = accelerator.prepare(torch.utils.data.DataLoader(data.validation, batch_size=64,
                                                                     collate_fn=self.collate))
        nll, correct, counts = chunk_statistics(model, dataloader, accelerator)
        loss, loss_error = ratio_and_error(nll, counts)
        accuracy, accuracy_error = ratio_and_error(correct, counts)

        extras = data.extras
        # Copies count in any key: a transposed quotation is still a quotation.
        table = model.codec.transposition_table(range(-5, 7)) if model.config.codec == "performance" else None
        index = NoveltyIndex.build(extras["train_pieces"], table)
        settings = ComposeSettings()  # the model's defaults: what the card calls the default settings
        pieces = 16 if len(data.train) >= 500 else 3
        generated, copy_rates, shapes = [], {n: [] for n in NGRAM_SIZES}, []
        for seed in range(pieces):
            generator = torch.Generator().manual_seed(seed)
            primer = model.random_primer(generator)
            ids = model.compose_ids(primer, settings=settings, seed=seed)[0]
            generated.append((primer, ids))
            for n in NGRAM_SIZES:
                copy_rates[n].append(index.copy_rate(ids, n))
            notes, steps_per_beat = model.codec.notes_from_ids(ids)
            shapes.append(piece_shape(notes, steps_per_beat))
        reference_shapes = []
        for piece in extras["validation_pieces"][:pieces * 4]:
            notes, steps_per_beat = model.codec.notes_from_ids(piece[:settings.num_tokens])
            reference_shapes.append(piece_shape(notes, steps_per_beat))

        def shape_summary(shapes):
            return {key: mean_and_error([getattr(shape, key) for shape in shapes])
                    for key in ("distinct_durations", "main_duration_share", "distinct_bar_share")} | {
                "longest_loop_bars_max": max((shape.longest_loop_bars for shape in shapes), default=0),
                "bars_mean": mean_and_error([shape.bars for shape in shapes])[0]}

        metrics = [
            {"name": "Validation perplexity", "type": "perplexity", "value": round(math.exp(loss), 4),
             "error": round(math.exp(loss) * loss_error, 4), "split": "validation"},
            {"name": "Validation loss", "type": "loss", "value": round(loss, 5), "error": round(loss_error, 5),
             "digits": 4, "unit": "nats/token", "split": "validation"},
            {"name": "Validation next-token accuracy", "type": "accuracy", "value": round(100 * accuracy, 3),
             "error": round(100 * accuracy_error, 3), "unit": "%", "split": "validation"},
        ]
        novelty = {}
        for n in NGRAM_SIZES:
            mean, error = mean_and_error(copy_rates[n])
            novelty[n] = (mean, error)
            metrics.append({"name": f"{n}-gram copy rate at default settings", "type": f"copy_rate_{n}",
                            "value": round(100 * mean, 2), "error": None if error is None else round(100 * error, 2),
                            "unit": "%", "split": "generated"})
        sample_files = {}
        if accelerator.is_main_process:
            output_dir = Path(output_dir)
            save_corpus(output_dir, extras["train_pieces"], extras["validation_pieces"], extras["validation_names"], table)
            primer, ids = generated[SAMPLE_SEED]
            tempo, program = model.config.tempo_bpm, model.config.program
            (output_dir / "sample.mid").write_bytes(midi_bytes(model.codec.midi_from_ids(primer + ids, tempo, program)))
            notes, steps_per_beat = model.codec.notes_from_ids(primer + ids)
            rendering = render(notes, steps_per_beat, tempo, program)
            full_seconds = rendering.seconds
            write_wav(output_dir / "sample.wav", shortened(rendering, SAMPLE_SECONDS))
            sample_files = {"midi": "sample.mid", "wav": "sample.wav", "engine": rendering.engine,
                            "seconds": round(min(full_seconds, SAMPLE_SECONDS), 1),
                            "piece_seconds": round(full_seconds, 1), "note": rendering.note}
        return {
            "metrics": metrics,
            "validation_tokens": int(counts.sum()),
            "validation_chunks": int((counts > 0).sum()),
            "compose_defaults": dataclasses.asdict(settings),
            "novelty_pieces": pieces,
            "generated_shape": shape_summary(shapes),
            "validation_shape": shape_summary(reference_shapes),
            "sample": sample_files,
            "corpus_statistics": extras.get("statistics", ""),
            "codec": model.config.codec,
        }

    # ------------------------------------------------------------ saving
    def save_pretrained(self, parts, output_dir, accelerator):
        model = accelerator.unwrap_model(parts.model)
        model.config.auto_map = {}  # only what register_for_auto_class names: AutoConfig and AutoModel
        model.config.register_for_auto_class()
        model.register_for_auto_class(self.auto_class)
        model.save_pretrained(output_dir, is_main_process=accelerator.is_main_process)
        return model

    # -------------------------------------------------------------- card
    def model_card(self, results):
        from .card import card_body

        return card_body(results)

    def usage_snippet(self, repo_id):
        return (
            "import subprocess\n\n"
            "from transformers import AutoModel\n\n"
            f'model = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True)  # pip install mido\n'
            'model.compose(num_tokens=512, seed=0).save("piece.mid")  # a mido.MidiFile\n'
            "# To hear it: apt install fluidsynth fluid-soundfont-gm\n"
            'subprocess.run(["fluidsynth", "-ni", "-q", "-F", "piece.wav", "-r", "44100",\n'
            '                "/usr/share/sounds/sf2/FluidR3_GM.sf2", "piece.mid"], check=True)\n'
        )

    # -------------------------------------------------------------- demo
    def load_for_demo(self, folder):
        model = LstmComposerForCausalLM.from_pretrained(folder, dtype=torch.float32)
        model.eval()
        return install_fast_step(model)  # the hub's compiled CPU step; the same pieces as the model's plain one

    def build_demo(self, models):
        from .demo import build_tab

        build_tab(self, models)


__all__ = ["LstmComposerPlugin"]
