from .configuration_lstm_composer import LstmComposerConfig
from .midi_codec import LectureCodec, PerformanceCodec, UnusableMidiError, codec_from_config, read_score
from .modeling_lstm_composer import LstmComposerForCausalLM, LstmComposerOutput, LstmComposerPreTrainedModel

__all__ = ["LstmComposerConfig", "LstmComposerForCausalLM", "LstmComposerOutput", "LstmComposerPreTrainedModel",
           "LectureCodec", "PerformanceCodec", "UnusableMidiError", "codec_from_config", "read_score"]
