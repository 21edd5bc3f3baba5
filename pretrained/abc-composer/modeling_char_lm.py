"""A character-level language model as a transformers `PreTrainedModel`, and the tunes it writes.

Architecture: embedding -> a sequence model -> a linear head over the
characters. The sequence model is one of the lecture notes' four
(`config.cell`): a simple tanh RNN, a GRU, an LSTM (the MIT 6.S191 lab's
Embedding(256) -> LSTM(1024) -> Dense) or a small causal self-attention model
in GPT-2's shape (pre-norm blocks, learned positions). Training predicts every
character of a chunk (teacher forcing), as the lab does.

Generation is stateful: `forward(..., state=...)` continues from the state of an
earlier call (the recurrent (h, c), or the transformer's keys and values), so
each new character costs one step and running a text in pieces gives the
logits of running it whole. `generate_tune` writes characters until the model
ends the tune (<eos>) or `max_characters` is reached, choosing them with a
`TuneSettings` strategy: "greedy", "temperature", "top-k" or "top-p"
(transformers' own logits warpers). A seed reproduces a tune.

Plain PyTorch and transformers: nothing here compiles or loads native code.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers.generation.logits_process import (
    LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper,
)
from transformers.utils import ModelOutput

from .configuration_char_lm import SPECIAL_TOKENS, CharLmConfig

PAD, BOS, EOS = 0, 1, 2
STRATEGIES = ("greedy", "temperature", "top-k", "top-p")


# ------------------------------------------------------------------ the codec
class CharCodec:
    """Text <-> ids with the vocabulary of a config. Characters outside it are dropped by `encode`
    (`unknown` lists them); special tokens are left out by `decode`."""

    def __init__(self, vocabulary: list[str]):
        self.vocabulary = list(vocabulary)
        self.token_to_id = {token: index for index, token in enumerate(self.vocabulary)}

    @staticmethod
    def build_vocabulary(texts) -> list[str]:
        """The special tokens, then every character of `texts` in sorted order (the lab's sorted(set(text)))."""
        return [*SPECIAL_TOKENS, *sorted(set("".join(texts)))]

    def unknown(self, text: str) -> set[str]:
        return {character for character in text if character not in self.token_to_id}

    def encode(self, text: str, tune: bool = False) -> list[int]:
        """The ids of `text`'s characters; with `tune`, wrapped in <bos> ... <eos>."""
        ids = [self.token_to_id[character] for character in text if character in self.token_to_id]
        return [BOS, *ids, EOS] if tune else ids

    def decode(self, ids) -> str:
        return "".join(self.vocabulary[int(index)] for index in ids if int(index) >= len(SPECIAL_TOKENS))


def _checked_number(value, label: str, low: float, high: float, whole: bool = False, above_low: bool = False):
    """`value` as a number in [low, high] ((low, high] with `above_low`), or a ValueError fit to show a person."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{label} must be a number, got {str(value)[:40]!r}.") from None
    if not math.isfinite(number):
        raise ValueError(f"{label} must be a finite number, got {value!r}.")
    if not (low < number <= high if above_low else low <= number <= high):
        raise ValueError(f"{label} must {'be above' if above_low else 'lie between'} {low:g} "
                         f"{'and at most' if above_low else 'and'} {high:g}, got {number:g}.")
    if whole:
        if number != int(number):
            raise ValueError(f"{label} must be a whole number, got {number:g}.")
        return int(number)
    return number


@dataclass(frozen=True)
class TuneSettings:
    """How `generate_tune` chooses characters: one set of defaults, checked when made.

    strategy: "greedy" (the likeliest character), "temperature" (sample from softmax(logits / temperature)),
        "top-k" (sample among the k likeliest, after the temperature) or "top-p" (sample among the likeliest
        characters whose probabilities sum to top_p, after the temperature).
    temperature: above 0, at most 10. top_k: 1 to 200. top_p: above 0, at most 1.
    max_characters: the tune stops here if the model has not ended it (1 to `max_allowed`).
    The model card's valid-ABC and copy figures were measured with these defaults.
    """

    strategy: str = "top-p"
    temperature: float = 1.0
    top_k: int = 10
    top_p: float = 0.95
    max_characters: int = 1500

    max_allowed: ClassVar[int] = 20_000

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"Strategy must be one of {', '.join(STRATEGIES)}; got {str(self.strategy)[:40]!r}.")
        checked = {
            "temperature": _checked_number(self.temperature, "Temperature", 0, 10, above_low=True),
            "top_k": _checked_number(self.top_k, "Top-k", 1, 200, whole=True),
            "top_p": _checked_number(self.top_p, "Top-p", 0, 1, above_low=True),
            "max_characters": _checked_number(self.max_characters, "Max characters", 1, self.max_allowed, whole=True),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # frozen: the checked value replaces the given one

    def processors(self) -> LogitsProcessorList:
        processors = LogitsProcessorList()
        if self.strategy == "greedy":
            return processors
        if self.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(self.temperature))
        if self.strategy == "top-k":
            processors.append(TopKLogitsWarper(self.top_k))
        elif self.strategy == "top-p" and self.top_p < 1.0:
            processors.append(TopPLogitsWarper(self.top_p))
        return processors


@dataclass
class CharLmOutput(ModelOutput):
    """`loss` (when labels are given), `logits` (batch, time, vocab) and the `state` after the last position."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    state: tuple | None = None


# ------------------------------------------------------------------ the transformer's block
class CharLmSelfAttention(nn.Module):
    """Causal multi-head self-attention that appends its keys and values to a carried cache."""

    def __init__(self, config: CharLmConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.head_size = config.hidden_size // config.num_heads
        self.query_key_value = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.output = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = config.dropout

    def forward(self, hidden_state: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None):
        batch, time, width = hidden_state.shape
        query, key, value = (part.view(batch, time, self.num_heads, self.head_size).transpose(1, 2)
                             for part in self.query_key_value(hidden_state).split(width, dim=-1))
        if cache is not None:  # (batch, heads, past, head size) each
            key, value = torch.cat([cache[0], key], dim=2), torch.cat([cache[1], value], dim=2)
        past = key.shape[2] - time
        # Position i of this call sees every cached position and its own prefix (without a cache: the plain
        # causal mask, for which PyTorch has a faster kernel).
        mask = None if past == 0 else \
            torch.ones(time, past + time, dtype=torch.bool, device=hidden_state.device).tril(past)
        attended = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, is_causal=past == 0,
                                                  dropout_p=self.dropout if self.training else 0.0)
        return self.output(attended.transpose(1, 2).reshape(batch, time, width)), (key, value)


class CharLmBlock(nn.Module):
    def __init__(self, config: CharLmConfig):
        super().__init__()
        intermediate = config.intermediate_size or 4 * config.hidden_size
        self.attention_norm = nn.LayerNorm(config.hidden_size)
        self.attention = CharLmSelfAttention(config)
        self.feed_forward_norm = nn.LayerNorm(config.hidden_size)
        self.feed_forward = nn.Sequential(nn.Linear(config.hidden_size, intermediate), nn.GELU(),
                                          nn.Linear(intermediate, config.hidden_size))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden_state, cache):
        attended, cache = self.attention(self.attention_norm(hidden_state), cache)
        hidden_state = hidden_state + self.dropout(attended)
        hidden_state = hidden_state + self.dropout(self.feed_forward(self.feed_forward_norm(hidden_state)))
        return hidden_state, cache


# ------------------------------------------------------------------ the model
class CharLmPreTrainedModel(PreTrainedModel):
    config_class = CharLmConfig
    base_model_prefix = "char_lm"
    main_input_name = "input_ids"

    @torch.no_grad()
    def _init_weights(self, module):
        # Recurrent cells: Keras' defaults, as in the lab (Glorot input kernels, orthogonal recurrent kernels,
        # zero biases, an LSTM forget-gate bias of 1). The transformer: GPT-2's normal(0, 0.02).
        if isinstance(module, (nn.RNN, nn.GRU, nn.LSTM)):
            gates = {nn.RNN: 1, nn.GRU: 3, nn.LSTM: 4}[type(module)]
            for name, parameter in module.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(parameter)
                elif name.startswith("weight_hh"):
                    for gate in parameter.chunk(gates, dim=0):
                        nn.init.orthogonal_(gate)
                elif name.startswith("bias"):
                    nn.init.zeros_(parameter)
                    if isinstance(module, nn.LSTM) and name.startswith("bias_ih"):
                        parameter[module.hidden_size:2 * module.hidden_size] = 1.0  # gates are i, f, g, o
        elif isinstance(module, nn.Embedding):
            if self.config.cell == "transformer":
                nn.init.normal_(module.weight, std=0.02)
            else:
                nn.init.uniform_(module.weight, -0.05, 0.05)
        elif isinstance(module, nn.Linear):
            if self.config.cell == "transformer":
                nn.init.normal_(module.weight, std=0.02)
            else:
                nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class CharLmForCausalLM(CharLmPreTrainedModel):
    def __init__(self, config: CharLmConfig):
        super().__init__(config)
        self.dropout = nn.Dropout(config.dropout)
        if config.cell == "transformer":
            self.embedding = nn.Embedding(config.vocab_size, config.hidden_size)
            self.position_embedding = nn.Embedding(config.max_position_embeddings, config.hidden_size)
            self.blocks = nn.ModuleList(CharLmBlock(config) for _ in range(config.num_layers))
            self.final_norm = nn.LayerNorm(config.hidden_size)
        else:
            recurrent = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[config.cell]
            self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
            self.recurrent = recurrent(config.embedding_size, config.hidden_size, num_layers=config.num_layers,
                                       dropout=config.dropout if config.num_layers > 1 else 0.0, batch_first=True)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        self.codec = CharCodec(config.vocabulary)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        labels: torch.LongTensor | None = None,
        state: tuple | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> CharLmOutput | tuple:
        """Next-character logits for every position; with `labels` (usually the input ids), the mean loss of
        predicting `labels[:, t + 1]` from the characters up to t (positions labelled -100 are skipped).

        `state` continues an earlier call (its output's `state`): the recurrent state, or for the transformer
        one (keys, values) pair per block, whose length is the position of the first new character.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        embedded = self.dropout(self.embedding(input_ids))  # (batch, time, width)
        if self.config.cell == "transformer":
            past = state[0][0].shape[2] if state is not None else 0
            if past + input_ids.shape[1] > self.config.max_position_embeddings:
                raise ValueError(f"{past + input_ids.shape[1]} positions exceed max_position_embeddings "
                                 f"({self.config.max_position_embeddings})")
            positions = torch.arange(past, past + input_ids.shape[1], device=input_ids.device)
            hidden_state = embedded + self.position_embedding(positions)
            caches = []
            for index, block in enumerate(self.blocks):
                hidden_state, cache = block(hidden_state, state[index] if state is not None else None)
                caches.append(cache)
            hidden_state, state = self.final_norm(hidden_state), tuple(caches)
        else:
            hidden_state, state = self.recurrent(embedded, state)  # (batch, time, hidden)
        logits = self.head(self.dropout(hidden_state))  # (batch, time, vocab)

        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1),
                                   ignore_index=-100)
        if not return_dict:
            return tuple(value for value in (loss, logits, state) if value is not None)
        return CharLmOutput(loss=loss, logits=logits, state=state)

    # ------------------------------------------------------------------ reading
    @torch.inference_mode()
    def surprisal(self, ids: list[int]) -> list[float]:
        """-log2 p(ids[t] | ids[:t]) for t = 1 .. len(ids) - 1, in bits (a transformer reads at most the `window`
        it was trained on: longer texts are read in windows that keep the last half of the one before)."""
        was_training = self.training
        self.eval()
        try:
            ids = torch.tensor([list(ids)], device=self.device)
            if self.config.cell != "transformer":
                return self._bits(self(input_ids=ids).logits[0, :-1], ids[0, 1:])
            context, bits, start = self.config.window, [], 0
            while start + 1 < ids.shape[1]:
                begin = max(0, start - context // 2) if start else 0
                window = ids[:, begin:begin + context]
                logits = self(input_ids=window).logits[0, start - begin:-1]
                bits += self._bits(logits, window[0, start - begin + 1:])
                start = begin + window.shape[1] - 1
            return bits
        finally:
            self.train(was_training)

    @staticmethod
    def _bits(logits: torch.Tensor, targets: torch.Tensor) -> list[float]:
        nats = F.cross_entropy(logits.float(), targets, reduction="none")
        return (nats / math.log(2)).tolist()

    # ------------------------------------------------------------------ writing
    def _step(self, token_ids: torch.Tensor, state, history: torch.Tensor):
        """Feed one token per row; a transformer that has read the `window` it was trained on reads the last half
        of it again (its positions beyond were never trained)."""
        if self.config.cell == "transformer" and state is not None and state[0][0].shape[2] >= self.config.window:
            output = self(input_ids=history[:, -(self.config.window // 2):])
        else:
            output = self(input_ids=token_ids[:, None], state=state)
        return output.logits[:, -1].float(), output.state

    @torch.inference_mode()
    def generate_tune(
        self,
        prompt: list[int] | None = None,
        *,
        settings: TuneSettings | None = None,
        seed: int | None = None,
        num_sequences: int = 1,
        callback=None,
        **changes,
    ) -> list[list[int]]:
        """`num_sequences` continuations of `prompt` (ids starting with <bos>; <bos> alone when None), each until
        the model writes <eos> (kept) or `settings.max_characters` new ids. `settings` defaults to
        `TuneSettings()`; keywords change single fields (`generate_tune(strategy="greedy")`). <pad> and <bos>
        are never written. `callback(new_ids_so_far)` is called every 32 characters with row 0's new ids."""
        settings = replace(settings or TuneSettings(), **changes)
        generator = torch.Generator().manual_seed(int(seed) if seed is not None else secrets.randbits(62))
        prompt = list(prompt) if prompt else [BOS]
        if any(not 0 <= int(index) < self.config.vocab_size for index in prompt):
            raise ValueError("the prompt must be a list of ids of this model's vocabulary")
        if self.config.cell == "transformer":
            prompt = prompt[-self.config.window:]
        processors = settings.processors()
        was_training = self.training
        self.eval()
        try:
            history = torch.tensor([prompt] * num_sequences, device=self.device)  # (sequences, time)
            output = self(input_ids=history)
            logits, state = output.logits[:, -1].float(), output.state
            finished = torch.zeros(num_sequences, dtype=torch.bool, device=self.device)
            new = []
            for step in range(settings.max_characters):
                logits[:, PAD] = logits[:, BOS] = -math.inf
                scores = processors(history, logits)
                if settings.strategy == "greedy":
                    token = scores.argmax(dim=-1)
                else:
                    token = torch.multinomial(scores.softmax(dim=-1).cpu(), 1, generator=generator)[:, 0]
                    token = token.to(self.device)
                token = torch.where(finished, torch.full_like(token, PAD), token)
                new.append(token)
                history = torch.cat([history, token[:, None]], dim=1)
                finished |= token == EOS
                if callback is not None and (step + 1) % 32 == 0:
                    callback([int(row[0]) for row in new])
                if bool(finished.all()) or step + 1 == settings.max_characters:
                    break
                logits, state = self._step(token, state, history)
            rows = torch.stack(new, dim=1).tolist() if new else [[] for _ in range(num_sequences)]
            return [row[:row.index(EOS) + 1] if EOS in row else row for row in rows]
        finally:
            self.train(was_training)

    def write_tune(self, start: str = "", *, settings: TuneSettings | None = None, seed: int | None = None,
                   **changes) -> str:
        """A tune as ABC text: `start` (the opening of a tune: its header and perhaps some bars) and what the
        model writes after it, until it ends the tune."""
        new = self.generate_tune([BOS, *self.codec.encode(start)], settings=settings, seed=seed, **changes)[0]
        return start + self.codec.decode(new)


__all__ = ["CharLmPreTrainedModel", "CharLmForCausalLM", "CharLmOutput", "CharCodec", "TuneSettings", "STRATEGIES",
           "PAD", "BOS", "EOS"]
