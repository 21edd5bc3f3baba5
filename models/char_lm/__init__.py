from .configuration_char_lm import CELLS, SPECIAL_TOKENS, CharLmConfig
from .modeling_char_lm import (
    BOS, EOS, PAD, STRATEGIES, CharCodec, CharLmForCausalLM, CharLmOutput, CharLmPreTrainedModel, TuneSettings,
)

__all__ = ["CharLmConfig", "CharLmForCausalLM", "CharLmOutput", "CharLmPreTrainedModel", "CharCodec", "TuneSettings",
           "CELLS", "SPECIAL_TOKENS", "STRATEGIES", "PAD", "BOS", "EOS"]
