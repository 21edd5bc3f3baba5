"""Configuration of a small convolutional image classifier.

One family covers the lecture's MNIST networks (1304-example-01 and 01a), the
hub's own stronger recipe and the 48x48 font-style classifier: a stack of
convolutions described layer by layer, then dense layers, then the labels.
"""

from transformers import PretrainedConfig


class CnnClassifierConfig(PretrainedConfig):
    r"""
    Args:
        image_size (`int`, defaults to 28): height and width of the square input.
        num_channels (`int`, defaults to 1): input channels (1 = grayscale).
        conv_channels (`list[int]`): output channels of each convolution, in order.
        conv_kernel_sizes (`list[int]`): kernel size of each convolution.
        conv_strides (`list[int]`): stride of each convolution.
        conv_paddings (`list[int]`): zero padding of each convolution (0 = Keras' "valid").
        pool_after (`list[bool]`): a 2x2 max-pooling follows this convolution.
        dropout_after (`list[float]`): dropout rate after this convolution block (0 = none).
        use_batch_norm (`bool`): batch normalisation after each convolution and dense layer.
        hidden_sizes (`list[int]`): dense layers between the flattened features and the labels.
        classifier_dropout (`float`): dropout before each dense layer.
        input_mean, input_std (`float`): the model normalises `(pixel - mean) / std` itself,
            so callers always pass pixels in [0, 1].
    """

    model_type = "cnn_classifier"

    image_size: int = 28
    num_channels: int = 1
    conv_channels: list[int] | tuple[int, ...] = (16,)
    conv_kernel_sizes: list[int] | tuple[int, ...] = (5,)
    conv_strides: list[int] | tuple[int, ...] = (1,)
    conv_paddings: list[int] | tuple[int, ...] = (0,)
    pool_after: list[bool] | tuple[bool, ...] = (True,)
    dropout_after: list[float] | tuple[float, ...] = (0.0,)
    use_batch_norm: bool = False
    hidden_sizes: list[int] | tuple[int, ...] = ()
    classifier_dropout: float = 0.2
    input_mean: float = 0.0
    input_std: float = 1.0

    def __post_init__(self, **kwargs):
        for name in ("conv_channels", "conv_kernel_sizes", "conv_strides", "conv_paddings",
                     "pool_after", "dropout_after", "hidden_sizes"):
            setattr(self, name, list(getattr(self, name)))
        super().__post_init__(**kwargs)
        self._check()

    def _check(self):
        layers = len(self.conv_channels)
        if layers == 0:
            raise ValueError("conv_channels must name at least one convolution")
        for name in ("conv_kernel_sizes", "conv_strides", "conv_paddings", "pool_after", "dropout_after"):
            if len(getattr(self, name)) != layers:
                raise ValueError(
                    f"{name} has {len(getattr(self, name))} entries but conv_channels has {layers}: "
                    "give one entry per convolution"
                )
        if self.image_size < 4 or self.num_channels < 1:
            raise ValueError(f"image_size={self.image_size} and num_channels={self.num_channels} must be positive")
        if self.input_std <= 0:
            raise ValueError(f"input_std must be positive, got {self.input_std}")
        rates = [*self.dropout_after, self.classifier_dropout]
        if any(not 0.0 <= rate < 1.0 for rate in rates):
            raise ValueError(f"dropout rates must lie in [0, 1), got {rates}")
        if self.feature_map_size() < 1:
            raise ValueError(
                f"the convolutions shrink a {self.image_size}x{self.image_size} input to nothing; "
                "use fewer layers, more padding or a larger image_size"
            )

    def feature_map_size(self) -> int:
        """Side of the last feature map, following Keras' "valid" arithmetic."""
        size = self.image_size
        for kernel, stride, padding, pool in zip(
            self.conv_kernel_sizes, self.conv_strides, self.conv_paddings, self.pool_after
        ):
            size = (size + 2 * padding - kernel) // stride + 1
            if pool:
                size //= 2
        return size


__all__ = ["CnnClassifierConfig"]
