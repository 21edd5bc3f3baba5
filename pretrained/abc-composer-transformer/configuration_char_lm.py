"""Configuration of a character-level language model: embedding -> a sequence model -> a head over the characters.

One family for the four sequence models of the lecture notes, so they can be
compared on one corpus at equal size: a simple RNN, a GRU, an LSTM (the MIT
6.S191 lab's model) and a small causal self-attention model. The vocabulary
(the characters, ids in order) is part of the configuration, so saved weights
carry everything needed to turn ids back into text.
"""

from transformers import PretrainedConfig

CELLS = ("rnn", "gru", "lstm", "transformer")
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>")  # <bos> starts a tune, <eos> ends it


class CharLmConfig(PretrainedConfig):
    r"""
    Args:
        vocabulary (`list[str]`): the tokens, ids in order: <pad>, <bos>, <eos>, then one character each.
        cell (`str`): "rnn" (tanh), "gru", "lstm" or "transformer" (pre-norm causal self-attention).
        embedding_size (`int`): size of the character embedding of the recurrent cells (the transformer
            embeds into `hidden_size`).
        hidden_size (`int`): units of each recurrent layer, or the transformer's width.
        num_layers (`int`): stacked recurrent layers or transformer blocks.
        num_heads (`int`): attention heads of each transformer block (must divide `hidden_size`).
        intermediate_size (`int`): width of the transformer's feed-forward layer (0 = 4 x hidden_size).
        max_position_embeddings (`int`): the transformer's position table; at least `window` + 1 (a training
            chunk). Generation keeps at most `window` characters of context, the length it was trained on.
        dropout (`float`): dropout after the embedding, between layers and before the head.
        window (`int`): training chunk length in characters (truncated back-propagation through time).
    """

    model_type = "char_lm"

    vocabulary: list[str] | tuple[str, ...] = SPECIAL_TOKENS
    cell: str = "lstm"
    embedding_size: int = 256
    hidden_size: int = 1024
    num_layers: int = 1
    num_heads: int = 4
    intermediate_size: int = 0
    max_position_embeddings: int = 512
    dropout: float = 0.0
    window: int = 100
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | None = 2

    def __post_init__(self, **kwargs):
        self.vocabulary = list(self.vocabulary)
        super().__post_init__(**kwargs)
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.vocabulary[:3] != list(SPECIAL_TOKENS):
            raise ValueError(f"the vocabulary must start with {', '.join(SPECIAL_TOKENS)}; got {self.vocabulary[:3]}")
        characters = self.vocabulary[3:]
        if any(len(token) != 1 for token in characters) or len(set(characters)) != len(characters):
            raise ValueError("after the special tokens the vocabulary must hold distinct single characters")
        for name in ("embedding_size", "hidden_size", "num_layers", "num_heads", "max_position_embeddings", "window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.intermediate_size < 0:
            raise ValueError(f"intermediate_size must be >= 0, got {self.intermediate_size}")
        if self.cell == "transformer" and self.max_position_embeddings < self.window + 1:
            raise ValueError(f"max_position_embeddings ({self.max_position_embeddings}) must be at least window + 1 "
                             f"({self.window + 1}): a training chunk is window + 1 characters")
        if self.cell == "transformer" and self.hidden_size % self.num_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must divide hidden_size ({self.hidden_size})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)


__all__ = ["CharLmConfig", "CELLS", "SPECIAL_TOKENS"]
