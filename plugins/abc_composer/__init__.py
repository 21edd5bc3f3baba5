"""The `abc-composer` plugin: folk tunes as text. The MIT 6.S191 lab's character LSTM on ABC notation, and the
lecture notes' sequence models (simple RNN, GRU, LSTM, self-attention) compared on one corpus at one size."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from models.char_lm import BOS, PAD, CharLmConfig, CharLmForCausalLM, TuneSettings

from ..base import DataSplits, Plugin, SpaceCard, TrainingParts, TrainingRecipe
from ..lstm_composer import ratio_and_error
from ..lstm_composer.audio import shortened, write_wav
from ..lstm_composer.novelty import mean_and_error
from ..registry import register_plugin
from .data import LAB_FOLDER, chunk_stream, load_tunes, synthetic_tunes
from .music import DEFAULT_PROGRAM, playable, read_abc
from .novelty import CopyIndex, save_corpus
from .presets import PRESETS

EVAL_WINDOW = 128  # every preset is read in the same 128-character chunks, so bits per character compare
POSITION_BANDS = ((1, 8), (9, 32), (33, 128))  # where in a chunk a character is predicted (context it had)
GENERATED_TUNES = 64
# Generated tunes begin as the demo's and the card's do, with the title field (the lab seeds its generation with
# "X" likewise). From <bos> alone the models often miss it: chunks begin mid-tune in training, so a fresh state
# followed by <bos> is rare there, and `best` then began 11 of 64 tunes with a garbled title line ("y:Cheir ...",
# or a title without "T:"), after which music21 reads no note length from the header and gives up.
GENERATION_START = "T:"
SAMPLE_SECONDS = 20.0  # the card's WAV sample (16-bit mono, ~44 kB a second); its MIDI file has the whole tune
# A shipped folder stays near 10 MB: weights whose float32 copy would pass this are stored in bfloat16 (the lab's
# 5.35 M parameters: 21 MB -> 10.7 MB) and load back as float32.
FLOAT32_WEIGHTS_BUDGET = 6_000_000
LN2 = math.log(2)
DATA_LICENCE = (
    "Training text: ABC tune books redistributed in music21's corpus (music21 10.5.1: O'Neill's Music of Ireland "
    "1850, Ryan's Mammoth Collection 1883, Aird's Selection of Airs, the Essen folk song collection) and the MIT "
    "Introduction to Deep Learning lab's `irish.abc` (repository aamini/introtodeeplearning, MIT licence); the data "
    "line above says which books a model saw. The tunes are historical and in the public domain; the transcriptions "
    "are volunteers', redistributed by music21 under the terms of its corpus (see `music21/corpus/license.txt`). "
    "The model's code is MIT-licensed."
)


@torch.no_grad()
def chunk_statistics(model, dataloader, accelerator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per chunk: summed negative log-likelihood (nats), predicted characters, and per position band the summed
    nll and count (chunks, bands, 2)."""
    was_training = model.training
    model.eval()
    nll, counts, bands = [], [], []
    for batch in dataloader:
        input_ids = batch["input_ids"]
        logits = model(input_ids=input_ids).logits[:, :-1].float()  # (batch, window, vocab)
        targets = input_ids[:, 1:]
        mask = (targets != PAD).float()
        token_nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none") * mask  # (batch, window)
        position = torch.arange(1, targets.shape[1] + 1, device=targets.device)
        per_band = []
        for low, high in POSITION_BANDS:
            inside = ((position >= low) & (position <= high)).float()
            per_band.append(torch.stack([(token_nll * inside).sum(1), (mask * inside).sum(1)], dim=1))
        stats = torch.cat([token_nll.sum(1, keepdim=True), mask.sum(1, keepdim=True), *per_band], dim=1)
        stats = accelerator.gather_for_metrics(stats).cpu().double()
        nll.append(stats[:, 0])
        counts.append(stats[:, 1])
        bands.append(stats[:, 2:].view(-1, len(POSITION_BANDS), 2))
    model.train(was_training)
    return torch.cat(nll), torch.cat(counts), torch.cat(bands)


def bits_per_character(model, texts: list[str], accelerator) -> dict:
    """Bits per character with its standard error (over chunks) of `texts` read in EVAL_WINDOW chunks, each from
    a fresh state, and the same per position band."""
    codec = model.codec
    ids = [codec.encode(text, tune=True) for text in texts]
    unknown = sum(len(text) + 2 - len(tune) for text, tune in zip(texts, ids))
    chunks = chunk_stream(ids, EVAL_WINDOW)
    loader = accelerator.prepare(torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(chunks), batch_size=64, collate_fn=lambda rows: {
            "input_ids": torch.stack([row[0] for row in rows])}))
    nll, counts, bands = chunk_statistics(model, loader, accelerator)
    value, error = ratio_and_error(nll / LN2, counts)
    by_band = {}
    for index, (low, high) in enumerate(POSITION_BANDS):
        band_value, band_error = ratio_and_error(bands[:, index, 0] / LN2, bands[:, index, 1])
        by_band[f"{low}-{high}"] = [round(band_value, 4), round(band_error, 4)]
    return {"bpc": round(value, 4), "error": round(error, 4), "characters": int(counts.sum()),
            "chunks": int((counts > 0).sum()), "unknown_characters": unknown, "by_position": by_band}


def generated_tunes(model, count: int, settings: TuneSettings, batch: int = 16,
                    start: str = GENERATION_START) -> tuple[list[str], list[bool], float]:
    """`count` tunes that begin with `start` (seeds 0, 1, ...: one per batch of `batch`), whether each was ended
    by the model, and the characters per second of batched generation."""
    prompt = [BOS, *model.codec.encode(start)]
    texts, ended, characters, started = [], [], 0, time.perf_counter()
    for seed in range(0, count, batch):
        rows = model.generate_tune(prompt, settings=settings, seed=seed, num_sequences=min(batch, count - seed))
        for row in rows:
            characters += len(row)
            ended.append(bool(row) and row[-1] == model.config.eos_token_id)
            texts.append(start + model.codec.decode(row))
    return texts, ended, characters / max(1e-9, time.perf_counter() - started)


@register_plugin
class AbcComposerPlugin(Plugin):
    name = "abc-composer"
    title = "Folk tunes (ABC text)"
    description = (
        "Character-level language models that learned folk tunes written as text in ABC notation and write new "
        "ones, which are parsed with music21, played and drawn as a piano roll. The `lab` model is the MIT 6.S191 "
        "lab's LSTM; `rnn`, `gru`, `lstm` and `transformer` are the lecture notes' four sequence models at one size, "
        "trained alike on 13,000 tunes, so you can hear and measure the difference."
    )
    config_class = CharLmConfig
    model_class = CharLmForCausalLM
    presets = PRESETS
    default_preset = "best"
    order = 35  # after the MIDI composer
    lecture = ("[MIT 6.S191](https://introtodeeplearning.com) lab 1 part 2, music generation from ABC "
               "text with a character LSTM ([lab code](https://github.com/aamini/introtodeeplearning))")
    auto_class = "AutoModelForCausalLM"
    space = SpaceCard(
        title="Folk tunes from text: ABC notation with RNN, GRU, LSTM and attention", emoji="🎻",
        color_from="green", color_to="yellow",
        summary="Press Compose: a character-level model writes a folk tune in ABC notation, character by character, "
                "until it ends it; music21 reads the text, FluidSynth plays it. Start from a tune's first bars or "
                "your own, choose greedy, temperature, top-k or top-p sampling, and compare how a simple RNN, a GRU, "
                "an LSTM and a small transformer continue the same start, with each one's surprise drawn under the "
                "text.",
        system_packages=("fluidsynth", "fluid-soundfont-gm"),
    )
    # It writes text, but with its own `write_tune` and no tokenizer or `generate`: the Hub's text-generation
    # snippet (`pipeline("text-generation", ...)`) would fail, so "other", with tags that say what it does.
    card_metadata = {"license": "mit", "pipeline_tag": "other",
                     "tags": ["music-generation", "abc-notation", "folk-music", "char-rnn", "lstm", "pytorch"]}
    demo_weights = {"best (ours, LSTM 2 x 384)": "abc-composer", "lab (MIT 6.S191 LSTM 1024)": "abc-composer-lab",
                    "rnn": "abc-composer-rnn", "gru": "abc-composer-gru", "lstm": "abc-composer-lstm",
                    "transformer": "abc-composer-transformer"}

    # -------------------------------------------------------------- data
    def load_data(self, data_dir, preset, seed):
        return load_tunes(data_dir, preset)

    def synthetic_data(self, preset, num_examples=64, seed=0):
        return synthetic_tunes(preset, num_examples, seed)

    def build_config(self, preset, data: DataSplits):
        return CharLmConfig(**preset.model, vocabulary=data.extras["vocabulary"])

    # ---------------------------------------------------------- training
    def training_step(self, parts: TrainingParts, batch, accelerator, recipe: TrainingRecipe):
        input_ids = batch["input_ids"]  # (batch, window + 1)
        labels = input_ids.masked_fill(input_ids == PAD, -100)
        loss = parts.model(input_ids=input_ids, labels=labels).loss
        parts.update("model", loss, accelerator, recipe)
        return {"loss": loss.detach(), "bpc": loss.detach() / LN2}

    def evaluate(self, parts, dataloader, accelerator):
        nll, counts, _ = chunk_statistics(parts.model, dataloader, accelerator)
        loss = float(nll.sum() / counts.sum())
        return {"loss": loss, "bpc": loss / LN2}

    # ------------------------------------------------------------ report
    def final_report(self, model, data, output_dir, accelerator):
        """Validation bits per character (all tunes, and the lab's tunes only) with errors and by position;
        64 generated tunes at the default settings: how many parse and play, end by themselves, and how much of
        them is copied; generation speed; the corpus file the demo needs; a sample tune as ABC, MIDI and WAV."""
        extras = data.extras
        texts, sources = extras["validation_texts"], extras["validation_sources"]
        lab_texts = [text for text, source in zip(texts, sources) if source.startswith(LAB_FOLDER + "/")]
        validation = bits_per_character(model, texts, accelerator)
        lab_validation = bits_per_character(model, lab_texts, accelerator) if lab_texts else None

        settings = TuneSettings()
        count = GENERATED_TUNES if len(data.train) >= 500 else 4
        tunes, ended, batch_speed = generated_tunes(model, count, settings)
        started = time.perf_counter()
        single = model.generate_tune([BOS, *model.codec.encode(GENERATION_START)], settings=settings, seed=12345)[0]
        single_speed = len(single) / max(1e-9, time.perf_counter() - started)
        verdicts = [playable(text) for text in tunes]
        copies = CopyIndex.build(extras["train_texts"])
        # a valid tune of fewer than 8 notes has no 8-note n-gram to be copied, so no share
        shares = [share for text, (ok, _) in zip(tunes, verdicts) if ok
                  and (share := copies.copy_share(text)) is not None]
        copy_mean, copy_error = mean_and_error(shares)
        reference_mean, reference_error = mean_and_error([copies.copy_share(text) for text in texts[:256]])
        valid = sum(ok for ok, _ in verdicts)
        valid_share = valid / len(tunes)
        valid_error = math.sqrt(valid_share * (1 - valid_share) / len(tunes))

        metrics = [
            {"name": "Validation bits per character", "type": "bits_per_character", "value": validation["bpc"],
             "error": validation["error"], "digits": 3, "unit": "bits/char", "split": "validation"},
        ]
        if lab_validation is not None:
            metrics.append({"name": "Validation bits per character, the lab's tunes", "type": "bits_per_character_lab",
                            "value": lab_validation["bpc"], "error": lab_validation["error"], "digits": 3,
                            "unit": "bits/char", "split": "validation"})
        metrics += [
            {"name": "Generated tunes that parse and play", "type": "valid_abc", "value": round(100 * valid_share, 2),
             "error": round(100 * valid_error, 2), "unit": "%", "split": "generated"},
        ]
        if shares:
            metrics.append({"name": "8-note n-grams copied from training tunes", "type": "copy_share",
                            "value": round(100 * copy_mean, 2),
                            "error": round(100 * copy_error, 2) if copy_error is not None else None, "unit": "%",
                            "split": "generated"})
        sample = {}
        if accelerator.is_main_process:
            output_dir = Path(output_dir)
            save_corpus(output_dir, extras["train_texts"], texts)
            first = next((text for text, (ok, _) in zip(tunes, verdicts) if ok), None)
            if first is not None:
                tune = read_abc(first)
                (output_dir / "sample.abc").write_text(first + "\n")
                (output_dir / "sample.mid").write_bytes(tune.midi(DEFAULT_PROGRAM))
                rendering = tune.render(DEFAULT_PROGRAM)
                write_wav(output_dir / "sample.wav", shortened(rendering, SAMPLE_SECONDS))
                sample = {"abc": "sample.abc", "midi": "sample.mid", "wav": "sample.wav", "engine": rendering.engine,
                          "seconds": round(min(rendering.seconds, SAMPLE_SECONDS), 1),
                          "tune_seconds": round(rendering.seconds, 1), "note": rendering.note}
        return {
            "metrics": metrics,
            "validation": validation,
            "validation_lab_tunes": lab_validation,
            "eval_window": EVAL_WINDOW,
            "generated": {"tunes": len(tunes), "valid": valid, "ended_by_the_model": sum(ended),
                          "mean_characters": round(sum(map(len, tunes)) / len(tunes), 1),
                          "copy_share_mean": copy_mean if shares else None, "copy_share_error": copy_error,
                          "max_copy_share": max(shares) if shares else None,
                          "tunes_over_half_copied": sum(share > 0.5 for share in shares),
                          "validation_copy_share": [reference_mean, reference_error],
                          "invalid_reasons": sorted({why[:120] for ok, why in verdicts if not ok})[:8],
                          "start": GENERATION_START,
                          "settings": {key: getattr(settings, key) for key in
                                       ("strategy", "temperature", "top_k", "top_p", "max_characters")},
                          "characters_per_second_batch_16": round(batch_speed, 1),
                          "characters_per_second_single": round(single_speed, 1)},
            "sample": sample,
            "corpus_statistics": extras.get("statistics", ""),
            "cell": model.config.cell,
        }

    # ------------------------------------------------------------ saving
    def save_pretrained(self, parts, output_dir, accelerator):
        model = accelerator.unwrap_model(parts.model)
        # The Hub model answers to AutoModel (the three-line usage) as well as AutoModelForCausalLM.
        model.config.auto_map = {"AutoModel": "modeling_char_lm.CharLmForCausalLM"}
        model.config.register_for_auto_class()
        model.register_for_auto_class(self.auto_class)
        if 4 * model.num_parameters() <= FLOAT32_WEIGHTS_BUDGET:
            model.save_pretrained(output_dir, is_main_process=accelerator.is_main_process)
            return model
        # Round the model itself to the stored bfloat16 values first, so the final report measures exactly the
        # weights that ship (config.json keeps dtype float32: from_pretrained casts them back up, losslessly).
        with torch.no_grad():
            for tensor in model.state_dict().values():
                if tensor.is_floating_point():
                    tensor.copy_(tensor.to(torch.bfloat16))
        stored = {name: tensor.to(torch.bfloat16) if tensor.is_floating_point() else tensor
                  for name, tensor in model.state_dict().items()}
        model.save_pretrained(output_dir, state_dict=stored, is_main_process=accelerator.is_main_process)
        return model

    # -------------------------------------------------------------- card
    def model_card(self, results):
        from .card import card_body

        return card_body(results)

    def usage_snippet(self, repo_id):
        return (
            "from transformers import AutoModel\n\n"
            f'model = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True)\n'
            'print(model.write_tune("T:", seed=0))  # a folk tune in ABC notation, ended by the model\n'
        )

    # -------------------------------------------------------------- demo
    def load_for_demo(self, folder):
        model = CharLmForCausalLM.from_pretrained(folder, dtype=torch.float32)
        model.eval()
        return model

    def build_demo(self, models):
        from .demo import build_tab

        build_tab(self, models)


__all__ = ["AbcComposerPlugin"]
