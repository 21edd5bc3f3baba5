from .configuration_mlp_classifier import MlpClassifierConfig
from .modeling_mlp_classifier import MlpClassifierForImageClassification, MlpClassifierPreTrainedModel

__all__ = ["MlpClassifierConfig", "MlpClassifierForImageClassification", "MlpClassifierPreTrainedModel"]
