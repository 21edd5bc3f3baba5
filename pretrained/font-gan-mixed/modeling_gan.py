"""A generator and a discriminator as transformers `PreTrainedModel`s.

Separately trained parts are separate model classes: `GanGenerator` (noise ->
image, what a Hub user downloads) and `GanDiscriminator` (image -> "is it
real" logit, only needed for training). Images are floats in [-1, 1] with ink
(or a digit's stroke) = +1, the lecture's scaling; `GanGenerator.generate`
returns them ready to show instead: [0, 1], black ink on white paper.
"""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_gan import GanConfig


@dataclass
class GanGeneratorOutput(ModelOutput):
    """images: (batch, channels, size, size) in [-1, 1], ink = +1."""

    images: torch.FloatTensor | None = None


@dataclass
class GanDiscriminatorOutput(ModelOutput):
    """logits: (batch,) "real" scores before the sigmoid; loss when labels (1 real, 0 fake) are given."""

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None


def activation_layer(config: GanConfig, name: str) -> nn.Module:
    return nn.ReLU() if name == "relu" else nn.LeakyReLU(config.leaky_relu_slope)


class GanPreTrainedModel(PreTrainedModel):
    config_class = GanConfig
    base_model_prefix = "gan"
    main_input_name = "latents"

    @torch.no_grad()
    def _init_weights(self, module):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if self.config.initializer == "glorot_uniform":  # Keras' default, as in the lecture
                nn.init.xavier_uniform_(module.weight)
            else:  # the DCGAN paper's N(0, 0.02)
                nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if self.config.initializer == "glorot_uniform":
                nn.init.ones_(module.weight)
            else:
                nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)
            if module.running_mean is not None:
                module.running_mean.zero_()
                module.running_var.fill_(1.0)


class GanGeneratorBlock(nn.Module):
    """A dense or convolution layer, its activation and batch norm, in the configured order."""

    def __init__(self, config: GanConfig, layer: nn.Module, features: int, batch_norm: bool, upsample: bool = False):
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest") if upsample else nn.Identity()
        self.layer = layer
        self.activation = activation_layer(config, config.generator_activation)
        if not batch_norm:
            self.normalization = nn.Identity()
        elif isinstance(layer, nn.Linear):
            self.normalization = nn.BatchNorm1d(features, momentum=config.batch_norm_momentum, eps=config.batch_norm_eps)
        else:
            self.normalization = nn.BatchNorm2d(features, momentum=config.batch_norm_momentum, eps=config.batch_norm_eps)
        self.norm_after_activation = config.generator_norm_after_activation

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        hidden_state = self.layer(self.upsample(hidden_state))
        if self.norm_after_activation:  # Keras order of the lecture: Dense/Conv(activation) then BatchNormalization
            return self.normalization(self.activation(hidden_state))
        return self.activation(self.normalization(hidden_state))


class GanGenerator(GanPreTrainedModel):
    """Noise (batch, latent_size) -> images (batch, channels, size, size) in [-1, 1]."""

    def __init__(self, config: GanConfig):
        super().__init__(config)
        pixels = config.num_channels * config.image_size ** 2
        if config.architecture == "mlp":
            blocks, features = [], config.latent_size
            for size in config.generator_hidden_sizes:
                blocks.append(GanGeneratorBlock(config, nn.Linear(features, size), size, config.generator_batch_norm))
                features = size
            self.blocks = nn.ModuleList(blocks)
            self.output_layer = nn.Linear(features, pixels)
        else:
            start = config.generator_start_channels * config.generator_start_size ** 2
            self.projection = nn.Linear(config.latent_size, start)
            self.projection_activation = activation_layer(config, config.generator_activation)
            blocks, channels = [], config.generator_start_channels
            for out_channels in config.generator_channels:
                convolution = nn.Conv2d(channels, out_channels, config.generator_kernel_size,
                                        padding=config.generator_padding)
                blocks.append(GanGeneratorBlock(config, convolution, out_channels, config.generator_batch_norm,
                                                upsample=True))
                channels = out_channels
            self.blocks = nn.ModuleList(blocks)
            self.output_layer = nn.Conv2d(channels, config.num_channels, config.generator_output_kernel_size,
                                          padding=config.generator_output_padding)
        self.post_init()

    def forward(self, latents: torch.Tensor, return_dict: bool | None = None, **kwargs) -> GanGeneratorOutput | tuple:
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        config = self.config
        if config.architecture == "mlp":
            hidden_state = latents  # (batch, latent)
            for block in self.blocks:
                hidden_state = block(hidden_state)
            images = torch.tanh(self.output_layer(hidden_state))
            images = images.view(-1, config.num_channels, config.image_size, config.image_size)
        else:
            hidden_state = self.projection_activation(self.projection(latents))
            hidden_state = hidden_state.view(-1, config.generator_start_channels, config.generator_start_size,
                                             config.generator_start_size)  # (batch, channels, start, start)
            for block in self.blocks:
                hidden_state = block(hidden_state)  # upsample x2, convolution
            images = torch.tanh(self.output_layer(hidden_state))  # (batch, channels, size, size)
        return GanGeneratorOutput(images=images) if return_dict else (images,)

    def sample_latents(self, num_images: int, seed: int | None = None) -> torch.Tensor:
        """Standard normal noise; the same `seed` always gives the same noise, on any machine."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return torch.randn(num_images, self.config.latent_size, generator=generator)

    @torch.no_grad()
    def generate(self, num_images: int = 16, seed: int | None = None, latents: torch.Tensor | None = None) -> torch.Tensor:
        """Invent `num_images` images: (num_images, size, size) floats in [0, 1], black ink on white.

        `seed` makes the call reproducible; `latents` (num_images, latent_size) chooses the noise directly
        (e.g. points on a line between two seeds' noise, for an interpolation).
        """
        if latents is None:
            if not 1 <= num_images <= 4096:
                raise ValueError(f"num_images must lie between 1 and 4096, got {num_images}")
            latents = self.sample_latents(num_images, seed)
        if latents.ndim != 2 or latents.shape[1] != self.config.latent_size:
            raise ValueError(f"latents must be shaped (count, {self.config.latent_size}), got {tuple(latents.shape)}")
        was_training = self.training
        self.eval()
        parameter = next(self.parameters())
        images = self(latents.to(parameter.device, parameter.dtype)).images.float()
        self.train(was_training)
        pictures = (1.0 - images) / 2.0  # ink +1 -> black (0), paper -1 -> white (1)
        return pictures.clamp(0.0, 1.0)[:, 0] if self.config.num_channels == 1 else pictures.clamp(0.0, 1.0)


class GanDiscriminator(GanPreTrainedModel):
    """Images (batch, channels, size, size) in [-1, 1] -> one "real" logit per image."""

    main_input_name = "pixel_values"

    def __init__(self, config: GanConfig):
        super().__init__(config)
        if config.architecture == "mlp":
            layers, features = [nn.Flatten()], config.num_channels * config.image_size ** 2
            for size in config.discriminator_hidden_sizes:
                layers += [nn.Linear(features, size), nn.LeakyReLU(config.leaky_relu_slope)]
                features = size
        else:
            layers, channels = [], config.num_channels
            for out_channels, kernel, stride, padding, batch_norm in zip(
                config.discriminator_channels, config.discriminator_kernel_sizes, config.discriminator_strides,
                config.discriminator_paddings, config.discriminator_batch_norm,
            ):
                layers.append(nn.Conv2d(channels, out_channels, kernel, stride=stride, padding=padding))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out_channels, momentum=config.batch_norm_momentum,
                                                 eps=config.batch_norm_eps))
                layers.append(nn.LeakyReLU(config.leaky_relu_slope))
                channels = out_channels
            layers.append(nn.Flatten())
            features = channels * config.discriminator_feature_size() ** 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(features, 1)
        self.post_init()
        if config.discriminator_spectral_norm:
            # After post_init, so that the initialisation applies to the weights being normalised.
            for module in self.modules():
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(module)

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None,
                return_dict: bool | None = None, **kwargs) -> GanDiscriminatorOutput | tuple:
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        logits = self.classifier(self.features(pixel_values)).squeeze(-1)  # (batch,)
        loss = None
        if labels is not None:
            loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float())
        if not return_dict:
            return tuple(value for value in (loss, logits) if value is not None)
        return GanDiscriminatorOutput(loss=loss, logits=logits)


__all__ = ["GanDiscriminator", "GanGenerator", "GanPreTrainedModel"]
