"""The `melody-vae` plugin: the autoencoder and variational autoencoder of the music-generation slides, on two-bar
melodies, with a latent space you can sample, walk through and hear (Magenta's MusicVAE, small)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from models.melody_vae import FIRST_PITCH_TOKEN, MelodyVaeConfig, MelodyVaeModel

from ..base import Plugin, SpaceCard, TrainingParts, TrainingRecipe
from ..lstm_composer import DATA_LICENCE as MIDI_CORPUS_LICENCE
from ..registry import register_plugin
from .data import load_melodies, synthetic_melodies
from .evaluation import PAIRS, SAMPLES, corpus_reference, interpolations, prior_samples, reconstruction
from .presets import PRESETS

MELODIES_FILE = "melodies.json"  # the held-out corpus melodies the demo offers and maps, shipped with the weights
SAMPLE_POINTS = 7  # melodies in the card's sample interpolation


def kl_weight(recipe: TrainingRecipe, beta: float, step: int) -> float:
    """The KL term's weight at optimizer step `step`: ramped linearly from 0 to beta over the recipe's
    `kl_annealing_steps` (Bowman et al. 2016), then beta."""
    ramp = recipe.options.get("kl_annealing_steps", 0)
    return beta if not ramp else beta * min(1.0, step / ramp)


def optimizer_steps(parts: TrainingParts) -> int:
    """Optimizer steps taken so far, read from the schedule the engine steps (and checkpoints, so a resumed run
    continues the KL ramp exactly); 0 where a step runs without a schedule."""
    scheduler = parts.scheduler
    scheduler = getattr(scheduler, "scheduler", scheduler)  # accelerate's wrapper holds the torch schedule
    return int(scheduler.last_epoch) if scheduler is not None else 0


def friendly_name(source: str) -> str:
    """'folk-oneills1850/0001-0050_002_The_Little_Heathy_Hill.mid from step 32' -> 'The Little Heathy Hill
    (O'Neill's 1850), beats 9-16'."""
    path, _, start = source.rpartition(" from step ")
    folder, _, file = path.rpartition("/")
    stem = file.rsplit(".", 1)[0]
    if folder == "bach-chorales":
        title = f"Bach chorale {stem.upper().replace('BWV', 'BWV ')}"
    elif folder == "folk-oneills1850":
        title = f"{' '.join(stem.split('_')[2:]).replace(' s ', 's ')} (O'Neill's 1850)"
    elif folder == "folk-ryans-mammoth":
        title = f"{re.sub(r'(?<=[a-z])(?=[A-Z])', ' ', stem.removeprefix('ryansMammoth_'))} (Ryan's Mammoth)"
    else:
        title = stem or source
    if start.isdigit():
        beat = int(start) // 4 + 1
        title += f", beats {beat}-{beat + 7}"
    return title


@register_plugin
class MelodyVaePlugin(Plugin):
    name = "melody-vae"
    title = "Melody VAE (latent space)"
    description = (
        "The autoencoder and the variational autoencoder of the music-generation slides, trained on two-bar "
        "melodies from Bach chorales and Irish folk tunes (Magenta's MusicVAE, small). Each melody becomes a point "
        "of a latent space: pick two and hear the path between them, draw new melodies from the prior, and compare "
        "the plain autoencoder, whose space gives mostly non-melodies when sampled at random, with the VAE, whose "
        "space can be sampled."
    )
    config_class = MelodyVaeConfig
    model_class = MelodyVaeModel
    presets = PRESETS
    default_preset = "best"
    order = 37  # after the two composers
    auto_class = "AutoModel"
    # Melody tokens in, melody tokens out, with its own encode/decode/interpolate/sample: no Hub pipeline fits.
    card_metadata = {"license": "mit", "pipeline_tag": "other",
                     "tags": ["music-generation", "midi", "variational-autoencoder", "musicvae", "symbolic-music",
                              "pytorch"]}
    demo_weights = {"best (ours, VAE)": "melody-vae", "vae (the slides' VAE)": "melody-vae-vae",
                    "autoencoder (the slides' AE)": "melody-vae-autoencoder"}
    space = SpaceCard(
        title="Melody VAE: a latent space of melodies you can hear", tagline="Interpolate between two melodies",
        emoji="🎹", color_from="blue", color_to="yellow",
        summary="Pick two short melodies from Bach chorales and Irish folk tunes (or upload MIDI files) and hear "
                "the path between them in the latent space of a variational autoencoder, step by step, with a piano "
                "roll and a map of the space; sample new melodies from the prior; and compare with a plain "
                "autoencoder, whose space gives mostly non-melodies when sampled at random.",
        system_packages=("fluidsynth", "fluid-soundfont-gm"),
    )

    # -------------------------------------------------------------- data
    def load_data(self, data_dir, preset, seed):
        return load_melodies(data_dir, preset)

    def synthetic_data(self, preset, num_examples=64, seed=0):
        return synthetic_melodies(preset, num_examples, seed)

    # ---------------------------------------------------------- training
    def training_step(self, parts: TrainingParts, batch, accelerator, recipe: TrainingRecipe):
        input_ids = batch["input_ids"]  # (batch, steps)
        if "lowest_shift" in batch:
            # Each melody in a random key of those that fit the range, drawn from the global torch RNG (which
            # checkpoints keep, so a resumed run draws the same keys).
            low, high = batch["lowest_shift"], batch["highest_shift"]
            shift = low + (torch.rand(low.shape).to(low.device) * (high - low + 1)).long().clamp(max=high - low)
            input_ids = torch.where(input_ids >= FIRST_PITCH_TOKEN, input_ids + shift[:, None], input_ids)
        model = accelerator.unwrap_model(parts.model)
        weight = kl_weight(recipe, model.config.beta, optimizer_steps(parts)) if model.config.variational else 0.0
        outputs = parts.model(input_ids=input_ids, labels=input_ids, kl_weight=weight)
        parts.update("model", outputs.loss, accelerator, recipe)
        return {"loss": outputs.loss.detach(), "reconstruction": outputs.reconstruction_loss.mean().detach(),
                "kl": outputs.kl.mean().detach(), "kl_weight": torch.tensor(weight)}

    @torch.no_grad()
    def evaluate(self, parts, dataloader, accelerator):
        """Validation reconstruction loss and KL (nats per melody, at the posterior mean) and the teacher-forced
        accuracy per step; `loss` is their sum, the negative ELBO at the mean (the autoencoder's is its
        reconstruction loss)."""
        model = parts.model
        model.eval()
        totals = []
        for batch in dataloader:
            output = model(input_ids=batch["input_ids"], labels=batch["input_ids"])
            accuracy = (output.logits.argmax(-1) == batch["input_ids"]).float().mean(1)
            totals.append(accelerator.gather_for_metrics(
                torch.stack([output.reconstruction_loss, output.kl, accuracy], dim=1)).cpu())
        model.train()
        reconstruction_loss, kl, accuracy = torch.cat(totals).double().mean(0).tolist()
        return {"loss": reconstruction_loss + kl, "reconstruction": reconstruction_loss, "kl": kl,
                "accuracy": accuracy}

    # ------------------------------------------------------------ report
    def final_report(self, model, data, output_dir, accelerator):
        """Held-out reconstruction, KL, prior samples, interpolations (slerp and lerp) and the corpus' own score by
        the same checks; the held-out melodies the demo offers; a sample interpolation as MIDI, WAV and PNG."""
        model.eval()
        test = data.test if data.test is not None else data.validation
        melodies = test.fields["input_ids"]
        rebuilt = reconstruction(model, melodies)
        full = len(data.train) >= 1000  # a smoke test on made-up melodies measures a few only
        samples = prior_samples(model, SAMPLES if full else 16)
        paths = {method: interpolations(model, melodies, PAIRS if full else 8, method) for method in ("slerp", "lerp")}
        reference = corpus_reference(model.codec, melodies)

        def percent(name, kind, pair, split="test"):
            return {"name": name, "type": kind, "value": round(100 * pair[0], 2),
                    "error": None if pair[1] is None else round(100 * pair[1], 2), "unit": "%", "split": split}

        metrics = [
            percent("Held-out reconstruction accuracy per step (greedy)", "reconstruction_accuracy",
                    rebuilt["greedy_accuracy"]),
            percent("Held-out accuracy per step, teacher forced", "teacher_forced_accuracy",
                    rebuilt["teacher_forced_accuracy"]),
        ]
        if rebuilt["kl"] is not None:
            metrics.append({"name": "KL per held-out melody", "type": "kl", "value": round(rebuilt["kl"][0], 3),
                            "error": round(rebuilt["kl"][1], 3), "unit": "nats", "split": "test"})
        metrics += [
            percent("Prior samples that are musical", "musical_samples", samples["musical"], "generated"),
            percent("Interpolation midpoints that are musical (slerp)", "musical_midpoints",
                    paths["slerp"]["midpoint_musical"], "generated"),
            percent("Steps changed between neighbouring interpolation points", "interpolation_change",
                    paths["slerp"]["mean_change"], "generated"),
        ]
        sample = {}
        if accelerator.is_main_process:
            output_dir = Path(output_dir)
            names = data.extras.get("test_names") or [f"melody {index}" for index in range(len(melodies))]
            shipped = [{"name": friendly_name(name), "source": name, "tokens": tokens}
                       for name, tokens in zip(names, melodies.tolist())]
            (output_dir / MELODIES_FILE).write_text(json.dumps({"melodies": shipped}, separators=(",", ":")) + "\n")
            sample = write_sample(model, melodies, names, output_dir)
        return {
            "metrics": metrics,
            "reconstruction": rebuilt,
            "prior_samples": samples,
            "interpolation": paths,
            "corpus_musical": reference,
            "sample": sample,
            "corpus_statistics": data.extras.get("statistics", ""),
            "variational": model.config.variational,
        }

    # -------------------------------------------------------------- card
    def data_licence_for(self, results):
        return "" if str(results.get("data", "")).startswith("SYNTHETIC") else MIDI_CORPUS_LICENCE

    def model_card(self, results):
        from .card import card_body

        return card_body(results)

    def usage_snippet(self, repo_id):
        return (
            "from transformers import AutoModel\n\n"
            f'model = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True)  # pip install mido\n'
            "first, last = model.sample(2, seed=0)  # two new two-bar melodies (token ids) from the prior\n"
            "path = model.interpolate(first, last, num_steps=7)  # 7 melodies from first to last, through z\n"
            'model.codec.midi_from_melodies(path, tempo_bpm=100).save("interpolation.mid")\n'
            "print(*(model.codec.describe(melody) for melody in path), sep='\\n')\n"
        )

    # -------------------------------------------------------------- demo
    def build_demo(self, models):
        from .demo import build_tab

        build_tab(self, models)


def write_sample(model, melodies: torch.Tensor, names: list[str], output_dir: Path) -> dict:
    """The card's example: the path between the first chorale and the first folk tune of the test melodies
    (or the first two), as MIDI, WAV (FluidSynth) and a piano roll."""
    from ..lstm_composer.audio import write_wav
    from .pictures import piano_roll
    from .playing import play

    chorale = next((index for index, name in enumerate(names) if name.startswith("bach-")), 0)
    folk = next((index for index, name in enumerate(names) if name.startswith("folk-")), min(1, len(names) - 1))
    path = model.interpolate(melodies[chorale], melodies[folk], num_steps=SAMPLE_POINTS)
    played = play(model, path.tolist())
    (output_dir / "sample.mid").write_bytes(played.midi)
    write_wav(output_dir / "sample.wav", played.rendering)
    piano_roll(model.codec, path.tolist()).save(output_dir / "sample.png")
    return {"midi": "sample.mid", "wav": "sample.wav", "png": "sample.png", "engine": played.rendering.engine,
            "seconds": round(played.rendering.seconds, 1), "from": friendly_name(names[chorale]),
            "to": friendly_name(names[folk]), "points": SAMPLE_POINTS}
