"""Configuration of the melody (variational) autoencoder: the codec's settings and the network's sizes.

The codec settings (pitch range, steps) are part of the configuration, so a
saved model carries everything needed to turn its tokens back into notes.
`variational=False` is the plain autoencoder of the music-generation slides
(a deterministic code, no KL term); `variational=True` is the VAE, whose loss
is reconstruction + beta * max(KL - free_bits, 0).
"""

import math

from transformers import PretrainedConfig


class MelodyVaeConfig(PretrainedConfig):
    r"""
    Args:
        min_pitch, max_pitch (`int`): the MIDI keys a note-on token can start (C3-C6 by default).
        num_steps (`int`): sixteenth-note steps of a melody (32 = two bars of 4/4).
        steps_per_beat, steps_per_bar (`int`): the grid: 4 steps to a quarter note, 16 to a bar of 4/4.
        embedding_size (`int`): size of a token's embedding (shared by encoder and decoder).
        encoder_hidden_size (`int`): units of the encoder's LSTM (per direction).
        bidirectional_encoder (`bool`): read the melody both ways (MusicVAE) or left to right only.
        latent_size (`int`): dimensions of the code z.
        decoder_hidden_size (`int`): units of each decoder LSTM layer.
        decoder_layers (`int`): stacked decoder LSTM layers.
        dropout (`float`): dropout between decoder layers and before its head.
        word_dropout (`float`): in training, the share of the decoder's previous-token inputs replaced by the start
            symbol (Bowman et al. 2016): the decoder cannot lean on the tokens before alone, so it reads z.
        variational (`bool`): a Gaussian posterior and a KL term (VAE), or a deterministic code (autoencoder).
        beta (`float`): weight of the KL term at the end of annealing (the plugin ramps it up from 0).
        free_bits (`float`): bits of KL per melody that are not penalised (MusicVAE's remedy against posterior
            collapse: the encoder may use that much information for free).
        tempo_bpm, program (`float`, `int`): how written MIDI files sound (quarter notes per minute, General MIDI
            program).
    """

    model_type = "melody_vae"

    min_pitch: int = 48
    max_pitch: int = 84
    num_steps: int = 32
    steps_per_beat: int = 4
    steps_per_bar: int = 16
    embedding_size: int = 32
    encoder_hidden_size: int = 256
    bidirectional_encoder: bool = True
    latent_size: int = 32
    decoder_hidden_size: int = 256
    decoder_layers: int = 1
    dropout: float = 0.0
    word_dropout: float = 0.0
    variational: bool = True
    beta: float = 1.0
    free_bits: float = 0.0
    tempo_bpm: float = 100.0
    program: int = 0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if not 0 <= self.min_pitch <= self.max_pitch <= 127:
            raise ValueError(f"need 0 <= min_pitch <= max_pitch <= 127, got {self.min_pitch} and {self.max_pitch}")
        for name in ("num_steps", "steps_per_beat", "steps_per_bar", "embedding_size", "encoder_hidden_size",
                     "latent_size", "decoder_hidden_size", "decoder_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.steps_per_bar % self.steps_per_beat:
            raise ValueError(f"steps_per_bar ({self.steps_per_bar}) must be a multiple of steps_per_beat "
                             f"({self.steps_per_beat})")
        if not (0.0 <= self.dropout < 1.0 and 0.0 <= self.word_dropout < 1.0):
            raise ValueError(f"dropout and word_dropout must lie in [0, 1), got {self.dropout} and {self.word_dropout}")
        if not (math.isfinite(self.beta) and self.beta >= 0 and math.isfinite(self.free_bits) and self.free_bits >= 0):
            raise ValueError(f"beta and free_bits must be finite and >= 0, got {self.beta} and {self.free_bits}")
        if not 0 <= self.program <= 127 or not 10 <= self.tempo_bpm <= 1000:
            raise ValueError(f"program must be 0-127 and tempo_bpm 10-1000, got {self.program} and {self.tempo_bpm}")

    @property
    def vocab_size(self) -> int:
        """REST, HOLD and one note-on per pitch of the range."""
        return 2 + self.max_pitch - self.min_pitch + 1


__all__ = ["MelodyVaeConfig"]
