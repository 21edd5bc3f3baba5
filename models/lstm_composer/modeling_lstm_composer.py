"""The LSTM composer as a transformers `PreTrainedModel`: a next-token model over MIDI tokens, and its composer.

Architecture (the lecture's Keras example 04/05): embedding -> `num_layers`
stacked LSTMs, each followed by dropout -> a linear head over the vocabulary.
Unlike the lecture, training predicts every position of a chunk (teacher
forcing), and generation carries the LSTM state `(h, c)` so each new token
costs one step instead of re-running a 128-token window.

`compose(...)` turns the model into a `mido.MidiFile`; `compose_ids(...)` is
the same at the token level. How they choose tokens is a `ComposeSettings`:
"greedy", "sample" (temperature, top-k, top-p: transformers' own logits
warpers), "adaptive" (the lecture's adaptive temperature) or "beam".
Everything random draws from a `torch.Generator` seeded by `seed`, so a seed
reproduces a piece.

This file is plain PyTorch: each generation step is `forward` on one token
(`LstmStepper`). An application may install a faster stepper that gives the
same logits (`stepper_factory`); the Deep Structured Learning Hub installs its
compiled CPU step there. Nothing here compiles or loads native code.
"""

from __future__ import annotations

import contextlib
import math
import secrets
from dataclasses import dataclass, replace
from typing import Callable, ClassVar

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.generation.logits_process import (
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.utils import ModelOutput

from .configuration_lstm_composer import LstmComposerConfig
from .midi_codec import BOS, SPECIAL_TOKENS, Codec, codec_from_config

STRATEGIES = ("greedy", "sample", "adaptive", "beam")


def _checked_number(value, label: str, low: float, high: float | None = None, whole: bool = False,
                    above_low: bool = False) -> float | int:
    """`value` as a number in [low, high] ((low, high] with `above_low`; no upper end for None), a whole one
    for `whole`, or a ValueError that says what is allowed."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{label} must be a number, got {str(value)[:40]!r}.") from None
    if not math.isfinite(number):
        raise ValueError(f"{label} must be a finite number, got {value!r}.")
    if above_low:
        fits, allowed = low < number <= high, f"must be above {low:g} and at most {high:g}"
    elif high is None:
        fits, allowed = low <= number, f"must be at least {low:g}"
    else:
        fits, allowed = low <= number <= high, f"must lie between {low:g} and {high:g}"
    if not fits:
        raise ValueError(f"{label} {allowed}, got {number:g}.")
    if whole:
        if number != int(number):
            raise ValueError(f"{label} must be a whole number, got {number:g}.")
        return int(number)
    return number


@dataclass(frozen=True)
class ComposeSettings:
    """How `compose` and `compose_ids` choose new tokens: one set of defaults, checked when made.

    The defaults are what the model card calls "the default settings": its novelty and rhythm figures were
    measured with them. Numbers are converted (4.0 for a whole number becomes 4); a value out of range raises
    ValueError with a message fit to show a person (named as the demo's controls: num_tokens is "Length").

    num_tokens: new tokens of a piece, 1 to `max_tokens`.
    strategy: one of STRATEGIES.
    temperature: divides the logits ("sample"; "adaptive" starts from it), above 0 and at most 100.
    top_k: keep only the k likeliest tokens ("sample"; 0 = all).
    top_p: keep the likeliest tokens whose probabilities sum to top_p ("sample"; 1 = all), above 0 and at most 1.
    num_beams: sequences kept by beam search ("beam"), 1 to `max_beams`.
    """

    num_tokens: int = 512
    strategy: str = "sample"
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 0.95
    num_beams: int = 4

    max_tokens: ClassVar[int] = 20_000  # the longest piece one call composes
    max_beams: ClassVar[int] = 64

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"Strategy must be one of {', '.join(STRATEGIES)}; got {str(self.strategy)[:40]!r}.")
        checked = {
            "num_tokens": _checked_number(self.num_tokens, "Length", 1, self.max_tokens, whole=True),
            "temperature": _checked_number(self.temperature, "Temperature", 0, 100, above_low=True),
            "top_k": _checked_number(self.top_k, "Top-k", 0, whole=True),
            "top_p": _checked_number(self.top_p, "Top-p", 0, 1, above_low=True),
            "num_beams": _checked_number(self.num_beams, "Beams", 1, self.max_beams, whole=True),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # frozen: the checked value replaces the given one


@dataclass
class LstmComposerOutput(ModelOutput):
    """`loss` (when labels are given), `logits` (batch, time, vocab) and the LSTM `state` after the last step."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    state: tuple[torch.Tensor, torch.Tensor] | None = None


def draw(probabilities: torch.Tensor, generator: torch.Generator | None, out: torch.Tensor | None = None
         ) -> torch.Tensor:
    """One index per row of `probabilities` (rows, classes), drawn with those probabilities (into `out`).

    The exponential race argmax(p / q), q ~ Exp(1): what torch.multinomial computes for one sample (the same
    draws from the same generator), without its input checks, which cost more than the draw (18 vs 7 us a
    token at batch 1). Rows come from a softmax, so they need none.
    """
    race = torch.empty_like(probabilities).exponential_(generator=generator)
    return torch.argmax(torch.div(probabilities, race, out=race), dim=-1, out=out)


@contextlib.contextmanager
def one_intra_op_thread():
    """Run single-token steps on one thread: they are too small to split, and on a busy machine waiting for a
    second thread costs ten times the step itself (measured: 1.6 ms vs 24 ms per step on 2 shared cores).
    The setting is per calling thread with PyTorch's OpenMP backend, and restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class AdaptiveTemperatureLogitsWarper(LogitsProcessor):
    """The lecture's example 05a: heat up when the piece repeats itself, cool down otherwise.

    Before each token: if the last n tokens equal the n before them for any
    n in (2, 3, 4), the temperature is multiplied by 1.15, else by 0.95, and
    clamped to [0.2, 5]. Logits are divided by it (the lecture's
    `p ** (1 / T)` renormalised). One temperature per sequence of the batch.
    """

    def __init__(self, temperature: float, lengths=(2, 3, 4), heat: float = 1.15, cool: float = 0.95,
                 low: float = 0.2, high: float = 5.0):
        self.initial, self.lengths, self.heat, self.cool, self.low, self.high = temperature, lengths, heat, cool, low, high
        self.temperature: torch.Tensor | None = None
        self.history: list[list[float]] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        if self.temperature is None:
            self.temperature = torch.full((input_ids.shape[0],), float(self.initial))
        repeats = torch.zeros(input_ids.shape[0], dtype=torch.bool)
        for n in self.lengths:
            if input_ids.shape[1] >= 2 * n:
                repeats |= (input_ids[:, -n:] == input_ids[:, -2 * n:-n]).all(dim=1).cpu()
        self.temperature = torch.where(repeats, self.temperature * self.heat, self.temperature * self.cool)
        self.temperature = self.temperature.clamp(self.low, self.high)
        self.history.append(self.temperature.tolist())
        return scores / self.temperature.to(scores.device, scores.dtype)[:, None]


class LstmStepper:
    """The LSTM advanced one token per sequence at a time, from a carried state: the step of generation.

    Each step is `forward` on one token with the state of the step before, so it equals running the whole
    sequence at once. A faster stepper (set as the model's `stepper_factory`) has the same three members:
    `advance`, `reorder` and `state`.
    """

    def __init__(self, model: LstmComposerForCausalLM, state: tuple[torch.Tensor, torch.Tensor]):
        self.model = model
        self.state = state  # (hidden, cell): (layers, batch, hidden size) each

    def advance(self, token_ids: torch.LongTensor) -> torch.Tensor:
        """Feed one token per sequence (batch,); returns the logits of the musical tokens after it (batch, tokens)
        (special tokens are never generated)."""
        output = self.model(input_ids=token_ids[:, None], state=self.state)
        self.state = output.state
        return output.logits[:, -1, len(SPECIAL_TOKENS):].float()

    def reorder(self, rows: torch.LongTensor) -> None:
        """Keep the state of sequences `rows` (batch,), e.g. the beams that survive a step of beam search."""
        hidden, cell = self.state
        self.state = (hidden[:, rows], cell[:, rows])


class LstmComposerPreTrainedModel(PreTrainedModel):
    config_class = LstmComposerConfig
    base_model_prefix = "lstm_composer"
    main_input_name = "input_ids"

    @torch.no_grad()
    def _init_weights(self, module):
        # Keras' defaults, as in the lecture: uniform(-0.05, 0.05) embeddings, Glorot input kernels,
        # orthogonal recurrent kernels, zero biases but a forget-gate bias of 1.
        if isinstance(module, nn.Embedding):
            nn.init.uniform_(module.weight, -0.05, 0.05)
        elif isinstance(module, nn.LSTM):
            for name, parameter in module.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(parameter)
                elif name.startswith("weight_hh"):
                    for gate in parameter.chunk(4, dim=0):
                        nn.init.orthogonal_(gate)
                elif name.startswith("bias_ih"):
                    nn.init.zeros_(parameter)
                    parameter[module.hidden_size:2 * module.hidden_size] = 1.0  # gates are i, f, g, o
                elif name.startswith("bias_hh"):
                    nn.init.zeros_(parameter)
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)


class LstmComposerForCausalLM(LstmComposerPreTrainedModel):
    def __init__(self, config: LstmComposerConfig):
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
        # nn.LSTM applies dropout between its layers; the dropout after the last one is ours.
        self.lstm = nn.LSTM(config.embedding_size, config.hidden_size, num_layers=config.num_layers,
                            dropout=config.dropout if config.num_layers > 1 else 0.0, batch_first=True)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        self.codec: Codec = codec_from_config(config)
        # Generation steps with `LstmStepper` unless an application sets a faster one here:
        # stepper_factory(model, state) -> an object with LstmStepper's members, giving the same logits.
        self.stepper_factory: Callable | None = None
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        labels: torch.LongTensor | None = None,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> LstmComposerOutput | tuple:
        """Next-token logits for every position; with `labels` (usually the input ids), the mean loss
        of predicting `labels[:, t + 1]` from the tokens up to t (positions labelled -100 are skipped).

        `state` continues from an earlier call: running a sequence in pieces, passing each
        call's `state` on, gives the same logits as running it whole.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        embedded = self.embedding(input_ids)  # (batch, time, embedding)
        hidden, state = self.lstm(embedded, state)  # (batch, time, hidden); state: 2 x (layers, batch, hidden)
        logits = self.head(self.dropout(hidden))  # (batch, time, vocab)

        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1), ignore_index=-100
            )
        if not return_dict:
            return tuple(value for value in (loss, logits, state) if value is not None)
        return LstmComposerOutput(loss=loss, logits=logits, state=state)

    # ------------------------------------------------------------------ composing
    def random_primer(self, generator: torch.Generator, num_notes: int = 4) -> list[int]:
        """A random start: for the lecture codec random chords (as its example 04a), for the
        performance codec <bos> and `num_notes` random notes of a quarter or an eighth in the middle range."""
        vocabulary = self.codec.vocabulary
        if self.config.codec == "lecture":
            picks = torch.randint(len(SPECIAL_TOKENS), len(vocabulary), (num_notes,), generator=generator)
            return [BOS, *picks.tolist()]
        token_to_id, steps = self.codec.token_to_id, self.config.steps_per_beat
        ids = [BOS]
        for index in range(num_notes):
            pitch = 55 + int(torch.randint(0, 25, (1,), generator=generator))
            duration = steps if int(torch.randint(0, 2, (1,), generator=generator)) else max(1, steps // 2)
            if index:
                ids.append(token_to_id[f"shift_{min(duration, self.config.max_shift_steps)}"])
            ids += [token_to_id[f"note_{pitch}"], token_to_id[f"dur_{min(duration, self.config.max_duration_steps)}"]]
        return ids

    def stepper(self, state: tuple[torch.Tensor, torch.Tensor]) -> LstmStepper:
        """A stepper continuing from `state`: the installed `stepper_factory`'s, else the plain `LstmStepper`."""
        if self.stepper_factory is not None:
            return self.stepper_factory(self, state)
        return LstmStepper(self, state)

    @torch.inference_mode()
    def compose_ids(
        self,
        primer: list[int] | None = None,
        *,
        settings: ComposeSettings | None = None,
        seed: int | None = None,
        num_sequences: int = 1,
        callback=None,
        **changes,
    ) -> list[list[int]]:
        """`num_sequences` continuations of `primer` (ids; <bos> when None), `settings.num_tokens` new ids each.

        `settings` defaults to `ComposeSettings()`; keyword arguments change single fields of it
        (`compose_ids(strategy="greedy", num_tokens=64)`). Special tokens are never generated, so a piece has the
        length asked for. `callback(done, total)` is called every 64 tokens, for a progress bar.
        """
        settings = replace(settings or ComposeSettings(), **changes)
        generator = torch.Generator().manual_seed(int(seed) if seed is not None else secrets.randbits(62))
        primer = list(primer) if primer is not None else [BOS]
        if not primer or any(not 0 <= int(index) < self.config.vocab_size for index in primer):
            raise ValueError("the primer must be a non-empty list of ids of this model's vocabulary")
        was_training = self.training
        self.eval()
        try:
            with one_intra_op_thread():
                if settings.strategy == "beam":
                    best, _ = self._beam_search(primer, settings.num_tokens, settings.num_beams, callback)
                    return [best] * num_sequences
                return self._sample(primer, settings.num_tokens, settings.strategy == "greedy",
                                    self._processors(settings), generator, num_sequences, callback)
        finally:
            self.train(was_training)

    def _processors(self, settings: ComposeSettings) -> LogitsProcessorList:
        """transformers' warpers for the sampling strategies (they see the logits of musical tokens only)."""
        processors = LogitsProcessorList()
        if settings.strategy == "adaptive":
            processors.append(AdaptiveTemperatureLogitsWarper(settings.temperature))
        elif settings.strategy == "sample":
            if settings.temperature != 1.0:
                processors.append(TemperatureLogitsWarper(settings.temperature))
            if settings.top_k:
                processors.append(TopKLogitsWarper(settings.top_k))
            if settings.top_p < 1.0:
                processors.append(TopPLogitsWarper(settings.top_p))
        return processors

    def _prime(self, primer: list[int], batch: int) -> tuple[torch.Tensor, LstmStepper]:
        """Run the primer through the LSTM at once; the logits of the musical tokens after it (batch, tokens) and
        a stepper that continues from its state. The head reads the last position only."""
        embedded = self.embedding(torch.tensor([primer], device=self.device).expand(batch, -1))
        hidden, state = self.lstm(embedded)
        return self.head(hidden[:, -1]).float()[:, len(SPECIAL_TOKENS):], self.stepper(state)

    def _sample(self, primer, num_tokens, greedy, processors, generator, num_sequences, callback):
        # A fast step takes ~70 us at batch 1, so the loop itself is kept to a few calls that allocate nothing:
        # each token is chosen straight into its row of `chosen`, which the next step reads. The full ids are
        # kept only for warpers, which read the history.
        special, start = len(SPECIAL_TOKENS), len(primer)
        scores, stepper = self._prime(primer, num_sequences)  # (sequences, musical tokens)
        chosen = torch.empty(num_tokens, num_sequences, dtype=torch.long, device=self.device)
        draws_here = self.device.type == "cpu"  # the generator lives on the CPU
        sequence = None
        if processors:
            sequence = torch.empty(num_sequences, start + num_tokens, dtype=torch.long, device=self.device)
            sequence[:, :start] = torch.tensor(primer, device=self.device)
        for step, row in enumerate(chosen):
            for processor in processors:  # not processors(...): LogitsProcessorList reads signatures at each call
                scores = processor(sequence[:, :start + step], scores)
            if greedy:
                torch.argmax(scores, dim=-1, out=row)
            elif draws_here:
                draw(scores.softmax(dim=-1), generator, out=row)
            else:
                row.copy_(draw(scores.softmax(dim=-1).cpu(), generator))
            row.add_(special)
            if processors:
                sequence[:, start + step] = row
            if step + 1 < num_tokens:
                scores = stepper.advance(row)  # one step, not a window
            if callback is not None and (step + 1) % 64 == 0:
                callback(step + 1, num_tokens)
        return chosen.t().tolist()

    @torch.inference_mode()
    def _beam_search(self, primer, num_tokens, num_beams, callback) -> tuple[list[int], float]:
        """The `num_beams` most likely continuations, extended one token at a time; the best at the end.

        Beam search can lose the greedy path on the way and end below it, so the
        greedy continuation competes at the end too: the result is never less
        likely than greedy decoding.
        """
        special = len(SPECIAL_TOKENS)
        beams = min(num_beams, self.config.vocab_size - special)
        logits, stepper = self._prime(primer, beams)  # every beam starts as the primer; one is kept at first
        log_probs = logits[:1].log_softmax(dim=-1)  # (beams, musical tokens)
        sequences = torch.empty(1, 0, dtype=torch.long, device=self.device)
        scores = torch.zeros(1, device=self.device)
        for step in range(num_tokens):
            candidates = (scores[:, None] + log_probs).view(-1)
            scores, flat = candidates.topk(beams)
            beam, token = flat // log_probs.shape[1], flat % log_probs.shape[1] + special
            sequences = torch.cat([sequences[beam], token[:, None]], dim=1)
            stepper.reorder(beam)
            if step + 1 < num_tokens:
                log_probs = stepper.advance(token).log_softmax(dim=-1)
            if callback is not None and (step + 1) % 64 == 0:
                callback(step + 1, num_tokens)
        best, best_score = sequences[0].tolist(), float(scores[0])
        greedy = self._sample(primer, num_tokens, True, LogitsProcessorList(), None, 1, None)[0]
        greedy_score = self.log_likelihood(primer, greedy)
        return (greedy, greedy_score) if greedy_score > best_score else (best, best_score)

    @torch.inference_mode()
    def log_likelihood(self, primer: list[int], continuation: list[int]) -> float:
        """log p(continuation | primer) under the model, with special tokens excluded as in composing."""
        was_training = self.training
        self.eval()
        try:
            ids = torch.tensor([list(primer) + list(continuation)], device=self.device)
            logits = self(input_ids=ids).logits[0, len(primer) - 1:-1].float()  # predicts the continuation
            log_probs = logits[:, len(SPECIAL_TOKENS):].log_softmax(dim=-1)
            targets = ids[0, len(primer):, None] - len(SPECIAL_TOKENS)
            if (targets < 0).any():
                return float("-inf")
            return float(log_probs.gather(1, targets).sum())
        finally:
            self.train(was_training)

    def compose(
        self,
        *,
        settings: ComposeSettings | None = None,
        primer=None,
        seed: int | None = None,
        tempo_bpm: float | None = None,
        program: int | None = None,
        include_primer: bool = True,
        **changes,
    ):
        """A new piece as a `mido.MidiFile` (`.save("piece.mid")` writes it).

        `settings` (default `ComposeSettings()`, fields changed by keyword: `compose(num_tokens=256, seed=0)`)
        says how tokens are chosen. `primer`: None (a few random notes), a MIDI file (bytes, path or
        mido.MidiFile) to continue, or a list of token ids. `tempo_bpm` and `program` (General MIDI
        instrument) default to the config's.
        """
        settings = replace(settings or ComposeSettings(), **changes)
        generator = torch.Generator().manual_seed(int(seed) if seed is not None else secrets.randbits(62))
        if primer is None:
            primer_ids = self.random_primer(generator)
        elif isinstance(primer, (list, tuple)):
            primer_ids = [int(index) for index in primer]
        else:
            primer_ids = self.codec.ids_from_midi(primer)[-self.config.window:]
        new_ids = self.compose_ids(primer_ids, settings=settings,
                                   seed=int(torch.randint(0, 2**62, (1,), generator=generator)))[0]
        ids = primer_ids + new_ids if include_primer else new_ids
        return self.codec.midi_from_ids(ids, tempo_bpm or self.config.tempo_bpm,
                                        self.config.program if program is None else program)


__all__ = ["LstmComposerPreTrainedModel", "LstmComposerForCausalLM", "LstmComposerOutput", "LstmStepper",
           "ComposeSettings", "AdaptiveTemperatureLogitsWarper", "STRATEGIES"]
