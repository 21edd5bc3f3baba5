"""Configuration of the LSTM composer: embedding -> stacked LSTM -> next-token head, plus its MIDI codec.

The vocabulary is part of the configuration, so a saved model carries
everything needed to turn its token ids back into music.
"""

from transformers import PretrainedConfig

CODECS = ("performance", "lecture")


class LstmComposerConfig(PretrainedConfig):
    r"""
    Args:
        vocabulary (`list[str]`): the codec's tokens, ids in order; the first three are <pad>, <bos>, <eos>.
        codec (`str`): "performance" (notes, durations and time shifts on a beat grid) or "lecture"
            (one chord token per onset, rhythm dropped, as in the lecture's midi_phraser).
        steps_per_beat, max_shift_steps, max_duration_steps (`int`): the performance codec's grid.
        maxnotes (`int`): the lecture codec keeps the highest `maxnotes` pitches of a chord (0 = all).
        embedding_size (`int`): size of the token embedding.
        hidden_size (`int`): units of each LSTM layer.
        num_layers (`int`): stacked LSTM layers.
        dropout (`float`): dropout after the embedding and after each LSTM layer (the lecture's Dropout(0.3)).
        window (`int`): training chunk length in tokens (truncated back-propagation through time).
        tempo_bpm (`float`), program (`int`): defaults for writing MIDI (General MIDI program 0-127).
    """

    model_type = "lstm_composer"

    vocabulary: list[str] | tuple[str, ...] = ("<pad>", "<bos>", "<eos>")
    codec: str = "performance"
    steps_per_beat: int = 12
    max_shift_steps: int = 48
    max_duration_steps: int = 96
    maxnotes: int = 0
    embedding_size: int = 128
    hidden_size: int = 256
    num_layers: int = 3
    dropout: float = 0.3
    window: int = 128
    tempo_bpm: float = 100.0
    program: int = 0
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | None = 2

    def __post_init__(self, **kwargs):
        self.vocabulary = list(self.vocabulary)
        super().__post_init__(**kwargs)
        self._check()

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def _check(self):
        if self.codec not in CODECS:
            raise ValueError(f"codec must be one of {CODECS}, got {self.codec!r}")
        if self.vocabulary[:3] != ["<pad>", "<bos>", "<eos>"]:
            raise ValueError(f"the vocabulary must start with <pad>, <bos>, <eos>; got {self.vocabulary[:3]}")
        for name in ("embedding_size", "hidden_size", "num_layers", "window", "steps_per_beat",
                     "max_shift_steps", "max_duration_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.maxnotes < 0:
            raise ValueError(f"maxnotes must be >= 0, got {self.maxnotes}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if not 10.0 <= self.tempo_bpm <= 1000.0:
            raise ValueError(f"tempo_bpm must lie in [10, 1000], got {self.tempo_bpm}")
        if not 0 <= self.program <= 127:
            raise ValueError(f"program must be a General MIDI program 0-127, got {self.program}")


__all__ = ["LstmComposerConfig"]
