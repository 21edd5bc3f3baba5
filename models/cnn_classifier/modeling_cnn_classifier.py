"""A small convolutional image classifier as a transformers `PreTrainedModel`.

Input contract: `pixel_values` are floats in [0, 1] shaped (batch, channels,
height, width), bright ink on a dark background (the MNIST convention). The
model normalises them itself so that every caller (training loop, Gradio demo,
a Hub user) feeds the same thing.
"""

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutputWithNoAttention

from .configuration_cnn_classifier import CnnClassifierConfig


class CnnClassifierConvolutionBlock(nn.Module):
    """convolution -> (batch norm) -> ReLU, then optional 2x2 max-pooling and dropout."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, pool, dropout, batch_norm):
        super().__init__()
        self.convolution = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=not batch_norm
        )
        self.normalization = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.activation = nn.ReLU()
        self.pooling = nn.MaxPool2d(2) if pool else nn.Identity()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, hidden_state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the block's output and its feature map before pooling and before the ReLU."""
        feature_map = self.normalization(self.convolution(hidden_state))
        # ReLU after max-pooling: the same numbers and gradients (both keep the largest value, and the ReLU
        # only clips), with the ReLU on a quarter of the values.
        return self.dropout(self.activation(self.pooling(feature_map))), feature_map


class CnnClassifierPreTrainedModel(PreTrainedModel):
    config_class = CnnClassifierConfig
    base_model_prefix = "cnn_classifier"
    main_input_name = "pixel_values"

    @torch.no_grad()
    def _init_weights(self, module):
        # Glorot-uniform weights and zero biases: Keras' defaults, so the lecture
        # presets start where the lecture's scripts started.
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class CnnClassifierForImageClassification(CnnClassifierPreTrainedModel):
    def __init__(self, config: CnnClassifierConfig):
        super().__init__(config)
        blocks = []
        in_channels = config.num_channels
        for out_channels, kernel, stride, padding, pool, dropout in zip(
            config.conv_channels, config.conv_kernel_sizes, config.conv_strides,
            config.conv_paddings, config.pool_after, config.dropout_after,
        ):
            blocks.append(CnnClassifierConvolutionBlock(
                in_channels, out_channels, kernel, stride, padding, pool, dropout, config.use_batch_norm
            ))
            in_channels = out_channels
        self.convolutions = nn.ModuleList(blocks)

        # Keras flattens channels-last; the order of features is irrelevant to
        # the maths, only the count (channels * side * side) matters.
        layers = [nn.Flatten()]
        features = in_channels * config.feature_map_size() ** 2
        for hidden_size in config.hidden_sizes:
            layers += [nn.Dropout(config.classifier_dropout), nn.Linear(features, hidden_size, bias=not config.use_batch_norm)]
            if config.use_batch_norm:
                layers.append(nn.BatchNorm1d(hidden_size))
            layers.append(nn.ReLU())
            features = hidden_size
        layers += [nn.Dropout(config.classifier_dropout), nn.Linear(features, config.num_labels)]
        self.classifier = nn.Sequential(*layers)
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

        # (batch, channels, size, size) in [0, 1] -> standardised
        hidden_state = (pixel_values - self.config.input_mean) / self.config.input_std
        feature_maps = []
        for block in self.convolutions:
            hidden_state, feature_map = block(hidden_state)
            feature_maps.append(feature_map)
        logits = self.classifier(hidden_state)  # (batch, num_labels)
        # The feature maps after convolution and ReLU, before pooling: what the demo shows as "what each filter sees"
        hidden_states = tuple(block.activation(maps) for block, maps in zip(self.convolutions, feature_maps)) \
            if output_hidden_states else None

        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits, labels)

        if not return_dict:
            return tuple(value for value in (loss, logits, hidden_states) if value is not None)
        return ImageClassifierOutputWithNoAttention(loss=loss, logits=logits, hidden_states=hidden_states)


__all__ = ["CnnClassifierPreTrainedModel", "CnnClassifierForImageClassification"]
