"""Configuration of a multilayer perceptron on images: flatten the pixels, dense layers, the labels.

The lecture's starting point before convolutions ("we flattened 28x28 into
784"): every pixel is its own input, so the network knows nothing of which
pixels are neighbours. The CNN family (`models/cnn_classifier`) is the contrast.
"""

from transformers import PretrainedConfig


class MlpClassifierConfig(PretrainedConfig):
    r"""
    Args:
        image_size (`int`, defaults to 28): height and width of the square input.
        num_channels (`int`, defaults to 1): input channels (1 = grayscale).
        hidden_sizes (`list[int]`): width of each hidden dense layer, in order.
        hidden_activation (`str`): "relu" or "gelu".
        use_batch_norm (`bool`): batch normalisation after each hidden layer's product.
        hidden_dropout (`float`): dropout after each hidden layer.
        input_mean, input_std (`float`): the model normalises `(pixel - mean) / std` itself,
            so callers always pass pixels in [0, 1].
    """

    model_type = "mlp_classifier"

    image_size: int = 28
    num_channels: int = 1
    hidden_sizes: list[int] | tuple[int, ...] = (128,)
    hidden_activation: str = "relu"
    use_batch_norm: bool = False
    hidden_dropout: float = 0.0
    input_mean: float = 0.0
    input_std: float = 1.0

    def __post_init__(self, **kwargs):
        self.hidden_sizes = list(self.hidden_sizes)
        super().__post_init__(**kwargs)
        if not self.hidden_sizes or any(size < 1 for size in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must name at least one layer of positive width, got {self.hidden_sizes}")
        if self.hidden_activation not in ("relu", "gelu"):
            raise ValueError(f"hidden_activation must be 'relu' or 'gelu', got {self.hidden_activation!r}")
        if self.image_size < 1 or self.num_channels < 1:
            raise ValueError(f"image_size={self.image_size} and num_channels={self.num_channels} must be positive")
        if not 0.0 <= self.hidden_dropout < 1.0:
            raise ValueError(f"hidden_dropout must lie in [0, 1), got {self.hidden_dropout}")
        if self.input_std <= 0:
            raise ValueError(f"input_std must be positive, got {self.input_std}")

    def num_inputs(self) -> int:
        return self.num_channels * self.image_size * self.image_size


__all__ = ["MlpClassifierConfig"]
