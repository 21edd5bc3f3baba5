"""Configuration of the hub's generative adversarial networks (generator + discriminator).

One family covers the lecture's two GANs and our own recipe:

- `architecture="mlp"`: 1304-example-07, dense layers on flattened images.
- `architecture="convolutional"`: 1304-example-08's DCGAN (a dense layer to a
  small feature map, then [upsample, convolution] stages; a strided
  convolutional discriminator) and, with "same" padding, spectral norm and
  more channels, the hub's `best` recipe.

Defaults follow Keras 2, which the lecture used: LeakyReLU slope 0.3, batch
norm momentum 0.99 (PyTorch's 0.01) and epsilon 1e-3, Glorot-uniform weights.
"""

from transformers import PretrainedConfig

ARCHITECTURES = ("mlp", "convolutional")
ACTIVATIONS = ("relu", "leaky_relu")
INITIALIZERS = ("glorot_uniform", "normal")


class GanConfig(PretrainedConfig):
    r"""
    Args:
        architecture (`str`): "mlp" or "convolutional".
        latent_size (`int`): length of the noise vector the generator starts from.
        image_size (`int`), num_channels (`int`): the square images generated (48 for glyphs, 28 for MNIST).
        generator_hidden_sizes, discriminator_hidden_sizes (`list[int]`): dense layers of the MLP GAN.
        generator_start_size (`int`), generator_start_channels (`int`): the feature map the generator's
            dense layer makes from the noise (the lecture: 14 x 14 x 64).
        generator_channels (`list[int]`): output channels of each [upsample x2, convolution] stage.
        generator_kernel_size (`int`), generator_padding (`int`): of those convolutions (0 = Keras "valid").
        generator_output_kernel_size (`int`), generator_output_padding (`int`): the last convolution to the image.
        generator_activation (`str`): "relu" or "leaky_relu", after each generator layer.
        generator_batch_norm (`bool`): batch norm after each hidden generator layer.
        generator_norm_after_activation (`bool`): Keras order of the lecture (activation, then batch norm).
        discriminator_channels, discriminator_kernel_sizes, discriminator_strides, discriminator_paddings
            (`list[int]`): one entry per discriminator convolution.
        discriminator_batch_norm (`list[bool]`): batch norm after that convolution.
        discriminator_spectral_norm (`bool`): spectral normalisation of every discriminator layer.
        leaky_relu_slope (`float`): negative slope of LeakyReLU (Keras 2's default 0.3).
        batch_norm_momentum (`float`), batch_norm_eps (`float`): PyTorch convention (Keras momentum 0.99 = 0.01).
        initializer (`str`): "glorot_uniform" (Keras) or "normal" (N(0, 0.02), the DCGAN paper).
    """

    model_type = "gan"

    architecture: str = "convolutional"
    latent_size: int = 128
    image_size: int = 48
    num_channels: int = 1
    generator_hidden_sizes: list[int] | tuple[int, ...] = (256, 512, 1024)
    discriminator_hidden_sizes: list[int] | tuple[int, ...] = (512, 256)
    generator_start_size: int = 14
    generator_start_channels: int = 64
    generator_channels: list[int] | tuple[int, ...] = (64, 64)
    generator_kernel_size: int = 3
    generator_padding: int = 0
    generator_output_kernel_size: int = 3
    generator_output_padding: int = 0
    generator_activation: str = "relu"
    generator_batch_norm: bool = True
    generator_norm_after_activation: bool = True
    discriminator_channels: list[int] | tuple[int, ...] = (32, 64, 128)
    discriminator_kernel_sizes: list[int] | tuple[int, ...] = (6, 4, 4)
    discriminator_strides: list[int] | tuple[int, ...] = (2, 2, 1)
    discriminator_paddings: list[int] | tuple[int, ...] = (0, 0, 0)
    discriminator_batch_norm: list[bool] | tuple[bool, ...] = (False, True, True)
    discriminator_spectral_norm: bool = False
    leaky_relu_slope: float = 0.3
    batch_norm_momentum: float = 0.01
    batch_norm_eps: float = 1e-3
    initializer: str = "glorot_uniform"

    def __post_init__(self, **kwargs):
        for name in ("generator_hidden_sizes", "discriminator_hidden_sizes", "generator_channels",
                     "discriminator_channels", "discriminator_kernel_sizes", "discriminator_strides",
                     "discriminator_paddings", "discriminator_batch_norm"):
            setattr(self, name, list(getattr(self, name)))
        super().__post_init__(**kwargs)
        self._check()

    def _check(self):
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.generator_activation not in ACTIVATIONS:
            raise ValueError(f"generator_activation must be one of {ACTIVATIONS}, got {self.generator_activation!r}")
        if self.initializer not in INITIALIZERS:
            raise ValueError(f"initializer must be one of {INITIALIZERS}, got {self.initializer!r}")
        if self.latent_size < 1 or self.image_size < 4 or self.num_channels < 1:
            raise ValueError(f"latent_size={self.latent_size}, image_size={self.image_size} and "
                             f"num_channels={self.num_channels} must be positive (image_size at least 4)")
        if not 0.0 <= self.leaky_relu_slope < 1.0:
            raise ValueError(f"leaky_relu_slope must lie in [0, 1), got {self.leaky_relu_slope}")
        if not 0.0 < self.batch_norm_momentum <= 1.0 or self.batch_norm_eps <= 0:
            raise ValueError("batch_norm_momentum must lie in (0, 1] and batch_norm_eps be positive")
        sizes = [*self.generator_hidden_sizes, *self.discriminator_hidden_sizes, *self.generator_channels,
                 *self.discriminator_channels, self.generator_start_channels]
        if any(size < 1 for size in sizes):
            raise ValueError(f"layer sizes must be positive, got {sizes}")
        if self.architecture == "convolutional":
            layers = len(self.discriminator_channels)
            if layers == 0:
                raise ValueError("discriminator_channels must name at least one convolution")
            for name in ("discriminator_kernel_sizes", "discriminator_strides", "discriminator_paddings",
                         "discriminator_batch_norm"):
                if len(getattr(self, name)) != layers:
                    raise ValueError(f"{name} has {len(getattr(self, name))} entries but discriminator_channels "
                                     f"has {layers}: give one entry per convolution")
            if self.generated_size() != self.image_size:
                raise ValueError(
                    f"the generator makes {self.generated_size()}x{self.generated_size()} images, not "
                    f"{self.image_size}x{self.image_size}: adjust generator_start_size, the paddings or the stages"
                )
            if self.discriminator_feature_size() < 1:
                raise ValueError("the discriminator's convolutions shrink the image to nothing")

    def generated_size(self) -> int:
        """Side of the generator's output, following the convolutions' "valid"/"same" arithmetic."""
        size = self.generator_start_size
        for _ in self.generator_channels:
            size = 2 * size + 2 * self.generator_padding - self.generator_kernel_size + 1
        return size + 2 * self.generator_output_padding - self.generator_output_kernel_size + 1

    def discriminator_feature_size(self) -> int:
        size = self.image_size
        for kernel, stride, padding in zip(self.discriminator_kernel_sizes, self.discriminator_strides,
                                           self.discriminator_paddings):
            size = (size + 2 * padding - kernel) // stride + 1
        return size


__all__ = ["GanConfig"]
