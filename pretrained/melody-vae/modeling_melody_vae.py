"""A melody (variational) autoencoder as a transformers `PreTrainedModel`: MusicVAE's flat model, small.

Encoder: the melody's tokens (see melody_codec.py) -> an embedding -> an LSTM
read both ways (`bidirectional_encoder`) -> from its last states, the mean and
log-variance of a Gaussian code z (the plain autoencoder has only the mean,
and z is that mean).

Decoder: an LSTM whose first state is computed from z and which gets z again
at every step beside the previous token, so the code cannot be ignored as
easily as a first state alone; it predicts one token per step. Training feeds
it the true previous tokens (teacher forcing), a share of them hidden behind
the start symbol (`word_dropout`, Bowman et al. 2016), so that it has to read
z; `decode` feeds it its own.

MusicVAE's hierarchical "conductor" decoder is left out on purpose: its paper
uses the flat decoder for two-bar melodies and the conductor for 16 bars,
where a flat decoder forgets z; at 32 steps there is nothing for it to fix.

The loss per melody is the reconstruction's negative log-likelihood (nats,
summed over the steps) plus `kl_weight * max(KL(q(z|x) || N(0, I)) - free
nats, 0)`. KL annealing (the weight ramped up from 0) is the training step's
business: `forward` takes the weight of the moment as `kl_weight`.

`encode`, `decode`, `interpolate` and `sample` are what a user calls; each takes
a `seed` where it draws. Plain PyTorch and transformers: nothing here compiles
or loads native code.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_melody_vae import MelodyVaeConfig
from .melody_codec import HOLD, REST, MelodyCodec

INTERPOLATIONS = ("slerp", "lerp")


@dataclass
class MelodyVaeOutput(ModelOutput):
    """`loss` (with labels): mean over melodies of reconstruction + weighted KL beyond the free bits;
    `reconstruction_loss` and `kl` per melody in nats (batch,); `logits` (batch, steps, vocab);
    `latent_mean`, `latent_log_variance` (None for the autoencoder) and the `latent` z the decoder read."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    reconstruction_loss: torch.Tensor | None = None
    kl: torch.Tensor | None = None
    latent_mean: torch.Tensor | None = None
    latent_log_variance: torch.Tensor | None = None
    latent: torch.Tensor | None = None


def gaussian_kl(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_variance)) || N(0, I)) per row, in nats: the closed form, summed over dimensions."""
    return 0.5 * (mean.pow(2) + log_variance.exp() - 1.0 - log_variance).sum(dim=-1)


def interpolate_latents(start: torch.Tensor, end: torch.Tensor, num_steps: int, method: str = "slerp") -> torch.Tensor:
    """`num_steps` codes from `start` to `end` (both included), (num_steps, latent).

    "lerp" walks the straight line. "slerp" walks the great circle (MusicVAE's
    choice): under a Gaussian prior nearly all codes lie near one sphere, and
    the straight line's middle falls inside it, where the decoder saw no codes.
    """
    if method not in INTERPOLATIONS:
        raise ValueError(f"method must be one of {', '.join(INTERPOLATIONS)}, got {method!r}")
    if num_steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps (its two ends), got {num_steps}")
    fractions = torch.linspace(0.0, 1.0, num_steps, device=start.device, dtype=start.dtype)[:, None]
    cosine = F.cosine_similarity(start, end, dim=0).clamp(-1.0, 1.0)
    angle = torch.arccos(cosine)
    if method == "lerp" or angle < 1e-4:
        return (1 - fractions) * start + fractions * end
    return (torch.sin((1 - fractions) * angle) * start + torch.sin(fractions * angle) * end) / torch.sin(angle)


class MelodyVaePreTrainedModel(PreTrainedModel):
    config_class = MelodyVaeConfig
    base_model_prefix = "melody_vae"
    main_input_name = "input_ids"

    @torch.no_grad()
    def _init_weights(self, module):
        # Keras' defaults for recurrent cells (Glorot input kernels, orthogonal recurrent kernels, zero biases and an
        # LSTM forget-gate bias of 1): the LSTM remembers from the first step on.
        if isinstance(module, nn.LSTM):
            for name, parameter in module.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(parameter)
                elif name.startswith("weight_hh"):
                    for gate in parameter.chunk(4, dim=0):
                        nn.init.orthogonal_(gate)
                elif name.startswith("bias"):
                    nn.init.zeros_(parameter)
                    if name.startswith("bias_ih"):
                        parameter[module.hidden_size:2 * module.hidden_size] = 1.0  # gates are i, f, g, o
        elif isinstance(module, nn.Embedding):
            nn.init.uniform_(module.weight, -0.05, 0.05)
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)


class MelodyVaeModel(MelodyVaePreTrainedModel):
    def __init__(self, config: MelodyVaeConfig):
        super().__init__(config)
        self.start_token = config.vocab_size  # the decoder's input before the first step: one extra embedding row
        self.embedding = nn.Embedding(config.vocab_size + 1, config.embedding_size)
        self.encoder = nn.LSTM(config.embedding_size, config.encoder_hidden_size, batch_first=True,
                               bidirectional=config.bidirectional_encoder)
        summary_size = config.encoder_hidden_size * (2 if config.bidirectional_encoder else 1)
        self.to_mean = nn.Linear(summary_size, config.latent_size)
        self.to_log_variance = nn.Linear(summary_size, config.latent_size) if config.variational else None
        self.latent_to_state = nn.Linear(config.latent_size, 2 * config.decoder_layers * config.decoder_hidden_size)
        self.decoder = nn.LSTM(config.embedding_size + config.latent_size, config.decoder_hidden_size,
                               num_layers=config.decoder_layers, batch_first=True,
                               dropout=config.dropout if config.decoder_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.decoder_hidden_size, config.vocab_size)
        self.codec = MelodyCodec(config.min_pitch, config.max_pitch, config.num_steps, config.steps_per_beat,
                                 config.steps_per_bar)
        self.post_init()

    # ------------------------------------------------------------------ the two halves
    def posterior(self, input_ids: torch.LongTensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The encoder: melodies (batch, steps) -> the mean (batch, latent) of q(z | melody) and its
        log-variance (None for the autoencoder, whose code is the mean itself)."""
        _, (last_hidden, _) = self.encoder(self.embedding(input_ids))  # (directions, batch, hidden)
        summary = last_hidden.transpose(0, 1).reshape(input_ids.shape[0], -1)  # both directions' last states
        mean = self.to_mean(summary)
        log_variance = self.to_log_variance(summary) if self.to_log_variance is not None else None
        return mean, log_variance

    def initial_state(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The decoder's first (h, c) from z, (layers, batch, hidden) each."""
        layers, hidden = self.config.decoder_layers, self.config.decoder_hidden_size
        state = torch.tanh(self.latent_to_state(latent)).view(-1, 2, layers, hidden).permute(1, 2, 0, 3)
        return state[0].contiguous(), state[1].contiguous()

    def decoder_logits(self, latent: torch.Tensor, previous_tokens: torch.LongTensor, state=None):
        """Logits (batch, time, vocab) for the tokens after `previous_tokens` (batch, time), and the state after."""
        if state is None:
            state = self.initial_state(latent)
        embedded = self.embedding(previous_tokens)  # (batch, time, embedding)
        inputs = torch.cat([embedded, latent[:, None].expand(-1, previous_tokens.shape[1], -1)], dim=-1)
        hidden_state, state = self.decoder(inputs, state)  # (batch, time, hidden)
        return self.head(self.dropout(hidden_state)), state

    # ------------------------------------------------------------------ training
    def forward(
        self,
        input_ids: torch.LongTensor,
        labels: torch.LongTensor | None = None,
        kl_weight: float | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MelodyVaeOutput | tuple:
        """Encode `input_ids` (batch, steps), decode them back with teacher forcing.

        In training z is drawn from q(z | x) (the reparameterisation trick); in
        eval mode it is the mean, so figures do not depend on a draw. With
        `labels` (usually the input ids) the loss is computed; `kl_weight`
        (default `config.beta`) weighs the KL beyond `config.free_bits`.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        mean, log_variance = self.posterior(input_ids)
        latent = mean
        if log_variance is not None and self.training:
            latent = mean + torch.randn_like(mean) * (0.5 * log_variance).exp()
        previous = torch.cat([torch.full_like(input_ids[:, :1], self.start_token), input_ids[:, :-1]], dim=1)
        if self.training and self.config.word_dropout > 0:
            dropped = torch.rand(previous.shape, device=previous.device) < self.config.word_dropout
            previous = previous.masked_fill(dropped, self.start_token)
        logits, _ = self.decoder_logits(latent, previous)

        loss = reconstruction = kl = None
        if labels is not None:
            reconstruction = F.cross_entropy(logits.float().transpose(1, 2), labels, reduction="none").sum(dim=1)
            kl = gaussian_kl(mean.float(), log_variance.float()) if log_variance is not None else \
                torch.zeros_like(reconstruction)
            weight = self.config.beta if kl_weight is None else kl_weight
            free_nats = self.config.free_bits * math.log(2)
            loss = (reconstruction + weight * (kl - free_nats).clamp(min=0.0)).mean()
        if not return_dict:
            return tuple(value for value in (loss, logits, reconstruction, kl, mean, log_variance, latent)
                         if value is not None)
        return MelodyVaeOutput(loss=loss, logits=logits, reconstruction_loss=reconstruction, kl=kl,
                               latent_mean=mean, latent_log_variance=log_variance, latent=latent)

    # ------------------------------------------------------------------ using it
    def _melodies(self, melodies) -> torch.LongTensor:
        """Melodies as a (batch, steps) tensor of token ids, checked: one melody or several, lists or a tensor."""
        tensor = torch.as_tensor(melodies, dtype=torch.long, device=self.device)
        tensor = tensor[None] if tensor.dim() == 1 else tensor
        if tensor.dim() != 2 or tensor.shape[1] != self.config.num_steps:
            raise ValueError(f"melodies must have {self.config.num_steps} steps each, got shape {tuple(tensor.shape)}")
        if tensor.numel() and not 0 <= int(tensor.min()) <= int(tensor.max()) < self.config.vocab_size:
            raise ValueError(f"melody tokens must lie in 0..{self.config.vocab_size - 1}")
        return tensor

    @torch.no_grad()
    def encode(self, melodies) -> torch.Tensor:
        """The codes of melodies (token lists or a (batch, steps) tensor): the posterior means, (batch, latent)."""
        was_training = self.training
        self.eval()
        try:
            return self.posterior(self._melodies(melodies))[0]
        finally:
            self.train(was_training)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, temperature: float = 0.0, seed: int | None = None) -> torch.LongTensor:
        """Melodies (batch, steps) from codes (batch, latent), one token per step fed back in.

        temperature 0 takes the likeliest token at each step (greedy, the same
        melody every time); above 0 it samples from softmax(logits / temperature).
        A HOLD is never chosen where nothing sounds (first step, after a rest).
        """
        if not (math.isfinite(temperature) and temperature >= 0):
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
        generator = torch.Generator().manual_seed(int(seed) if seed is not None else secrets.randbits(62))
        latents = torch.as_tensor(latents, dtype=self.dtype, device=self.device)
        latents = latents[None] if latents.dim() == 1 else latents
        was_training = self.training
        self.eval()
        try:
            token = torch.full((latents.shape[0], 1), self.start_token, dtype=torch.long, device=self.device)
            state, melody = None, []
            for step in range(self.config.num_steps):
                logits, state = self.decoder_logits(latents, token, state)
                logits = logits[:, -1].float()
                nothing_sounds = (token[:, 0] == REST) | (token[:, 0] == self.start_token)
                logits[:, HOLD] = logits[:, HOLD].masked_fill(nothing_sounds, -math.inf)
                if temperature == 0:
                    token = logits.argmax(dim=-1, keepdim=True)
                else:
                    probabilities = (logits / temperature).softmax(dim=-1).cpu()
                    token = torch.multinomial(probabilities, 1, generator=generator).to(self.device)
                melody.append(token)
            return torch.cat(melody, dim=1)
        finally:
            self.train(was_training)

    def interpolate(self, first, last, num_steps: int = 7, method: str = "slerp", temperature: float = 0.0,
                    seed: int | None = None) -> torch.LongTensor:
        """`num_steps` melodies (num_steps, steps) decoded along the path from the code of `first` to that of
        `last` (both ends included: they decode to the model's reconstructions of the two)."""
        start, end = self.encode(torch.cat([self._melodies(first), self._melodies(last)]))
        return self.decode(interpolate_latents(start, end, num_steps, method), temperature, seed)

    def sample(self, num_melodies: int = 1, temperature: float = 0.0, seed: int | None = None) -> torch.LongTensor:
        """New melodies (num_melodies, steps): codes drawn from the prior N(0, I), decoded with `temperature`."""
        generator = torch.Generator().manual_seed(int(seed) if seed is not None else secrets.randbits(62))
        latents = torch.randn(num_melodies, self.config.latent_size, generator=generator)
        return self.decode(latents, temperature, seed)


__all__ = ["MelodyVaePreTrainedModel", "MelodyVaeModel", "MelodyVaeOutput", "gaussian_kl", "interpolate_latents",
           "INTERPOLATIONS"]
