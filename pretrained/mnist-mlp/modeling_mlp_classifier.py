"""A multilayer perceptron image classifier as a transformers `PreTrainedModel`.

Input contract, as the CNN family's: `pixel_values` are floats in [0, 1] shaped
(batch, channels, height, width), bright ink on a dark background (MNIST). The
model flattens and normalises them itself.
"""

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutputWithNoAttention

from .configuration_mlp_classifier import MlpClassifierConfig


class MlpClassifierLayer(nn.Module):
    """linear -> (batch norm) -> activation -> (dropout)."""

    def __init__(self, in_features: int, out_features: int, config: MlpClassifierConfig):
        super().__init__()
        self.dense = nn.Linear(in_features, out_features, bias=not config.use_batch_norm)
        self.normalization = nn.BatchNorm1d(out_features) if config.use_batch_norm else nn.Identity()
        self.activation = nn.GELU() if config.hidden_activation == "gelu" else nn.ReLU()
        self.dropout = nn.Dropout(config.hidden_dropout) if config.hidden_dropout > 0 else nn.Identity()

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.activation(self.normalization(self.dense(hidden_state))))


class MlpClassifierPreTrainedModel(PreTrainedModel):
    config_class = MlpClassifierConfig
    base_model_prefix = "mlp_classifier"
    main_input_name = "pixel_values"

    @torch.no_grad()
    def _init_weights(self, module):
        # Glorot-uniform weights and zero biases: Keras' defaults, as in the lecture's scripts.
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class MlpClassifierForImageClassification(MlpClassifierPreTrainedModel):
    def __init__(self, config: MlpClassifierConfig):
        super().__init__(config)
        sizes = [config.num_inputs(), *config.hidden_sizes]
        self.layers = nn.ModuleList(MlpClassifierLayer(a, b, config) for a, b in zip(sizes, sizes[1:]))
        self.classifier = nn.Linear(sizes[-1], config.num_labels)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.LongTensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ImageClassifierOutputWithNoAttention | tuple:
        output_hidden_states = output_hidden_states or self.config.output_hidden_states
        return_dict = return_dict if return_dict is not None else self.config.return_dict

        # (batch, channels, size, size) in [0, 1] -> (batch, channels * size * size), standardised
        hidden_state = (pixel_values.flatten(1) - self.config.input_mean) / self.config.input_std
        hidden_states = []
        for layer in self.layers:
            hidden_state = layer(hidden_state)
            hidden_states.append(hidden_state)
        logits = self.classifier(hidden_state)  # (batch, num_labels)

        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits, labels)

        hidden_states = tuple(hidden_states) if output_hidden_states else None
        if not return_dict:
            return tuple(value for value in (loss, logits, hidden_states) if value is not None)
        return ImageClassifierOutputWithNoAttention(loss=loss, logits=logits, hidden_states=hidden_states)


__all__ = ["MlpClassifierPreTrainedModel", "MlpClassifierForImageClassification"]
