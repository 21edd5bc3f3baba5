from .configuration_lstm_composer import LstmComposerConfig
from .midi_codec import LectureCodec, PerformanceCodec, UnusableMidiError, codec_from_config, read_score
from .modeling_lstm_composer import (
    ComposeSettings, LstmComposerForCausalLM, LstmComposerOutput, LstmComposerPreTrainedModel, LstmStepper,
)

__all__ = ["LstmComposerConfig", "LstmComposerForCausalLM", "LstmComposerOutput", "LstmComposerPreTrainedModel",
           "ComposeSettings", "LstmStepper", "LectureCodec", "PerformanceCodec", "UnusableMidiError",
           "codec_from_config", "read_score"]
