from .configuration_cnn_classifier import CnnClassifierConfig
from .modeling_cnn_classifier import CnnClassifierForImageClassification, CnnClassifierPreTrainedModel

__all__ = ["CnnClassifierConfig", "CnnClassifierForImageClassification", "CnnClassifierPreTrainedModel"]
