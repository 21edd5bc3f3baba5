"""The hub's fast CPU generator for the GAN plugin: the same function as `models/gan`'s plain generator, computed
with fewer operations, installed in the generators this plugin trains and serves (`install_fast_generator`).

The model file that travels to the Hub keeps the lecture's readable form (`nn.Upsample`, then a convolution;
a convolution to the image). Here each of those is recomputed in a form the CPU's kernels run faster, with the
same parameters, so the state dict, the checkpoints and `save_pretrained` folders are unchanged, and a model
loaded with `trust_remote_code` computes the same images (to float rounding; `tests/test_gan_models.py` checks
values and gradients against the plain layers).
"""

import copy
import functools
import time
import types

import torch
from torch import nn

from models.gan.modeling_gan import GanGeneratorOutput

@functools.lru_cache(maxsize=None)
def _transposed_geometry(kernel_size: int, padding: int) -> tuple[tuple[tuple[float, ...], ...], int, int] | None:
    """Where each tap of a kernel_size x kernel_size convolution after upsampling x2 lands in the equivalent
    stride-2 transposed convolution: (taps, its padding, its output padding), or None if it has no such form.

    Upsampled row 2a + parity - padding + tap is input row a + (parity - padding + tap) // 2, and the transposed
    convolution takes input row a + offset to output row 2a + parity through its tap parity - 2 * offset + its
    padding; `taps[j][k]` is 1 where tap k lands on transposed tap j.
    """
    landing = {(parity, tap): parity - 2 * ((parity - padding + tap) // 2)
               for parity in (0, 1) for tap in range(kernel_size)}
    transposed_padding = -min(landing.values())
    size = max(landing.values()) + transposed_padding + 1
    taps = [[0.0] * kernel_size for _ in range(size)]
    for (parity, tap), position in landing.items():
        taps[position + transposed_padding][tap] = 1.0
    # Upsample + convolution gives 2n + 2 * padding - kernel_size + 1 rows, the transposed convolution
    # 2(n - 1) - 2 * its padding + its kernel size (+ output padding): the difference is the same for every n.
    output_padding = (2 * padding - kernel_size + 1) - (size - 2 - 2 * transposed_padding)
    if transposed_padding < 0 or not 0 <= output_padding < 2:
        return None
    return tuple(map(tuple, taps)), transposed_padding, output_padding


def upsample_and_convolve(hidden_state: torch.Tensor, convolution: nn.Conv2d) -> torch.Tensor:
    """`convolution(nearest-neighbour upsampling x2 of hidden_state)`, computed as one transposed convolution.

    The lecture's generator doubles the image with `UpSampling2D`, then convolves it. Each output pixel of that
    pair sees only a 2x2 block of the small input, through sums of the kernel's taps: output row 2a of a 3x3
    "valid" convolution reads upsampled rows 2a, 2a+1, 2a+2, that is input rows a, a, a+1. So the pair is a
    stride-2 transposed convolution with a 4x4 kernel whose taps are those sums: the same function and the same
    gradients (up to float rounding) with 16 instead of 36 multiply-adds per input pixel and channel pair, and
    no upsampled copy in memory. The parameters stay the 3x3 convolution's, so weights are unchanged.
    """
    transposed = _transposed_kernel(convolution)
    if transposed is None:
        return nn.Conv2d.forward(convolution, nn.functional.interpolate(hidden_state, scale_factor=2, mode="nearest"))
    kernel, transposed_padding, output_padding = transposed
    return nn.functional.conv_transpose2d(hidden_state, _in_layout_of(convolution.weight, kernel), convolution.bias,
                                          stride=2, padding=transposed_padding, output_padding=output_padding)


def _transposed_kernel(convolution: nn.Conv2d) -> tuple[torch.Tensor, int, int] | None:
    """The stride-2 transposed convolution equal to `convolution` after upsampling x2: (its kernel, shaped
    (in, out, 4, 4) for a 3x3 convolution, its padding, its output padding), or None if it has no such form."""
    (kernel_size, width), (padding, padding_width) = convolution.kernel_size, convolution.padding
    geometry = _transposed_geometry(kernel_size, padding)
    if (geometry is None or (kernel_size, padding) != (width, padding_width) or convolution.stride != (1, 1)
            or convolution.dilation != (1, 1) or convolution.groups != 1 or convolution.padding_mode != "zeros"):
        return None
    taps, transposed_padding, output_padding = geometry
    weight = convolution.weight
    taps = torch.tensor(taps, dtype=weight.dtype, device=weight.device)
    kernel = torch.einsum("jk,oikl,ml->iojm", taps, weight, taps)  # (out, in, k, k) -> (in, out, 4, 4)
    return kernel, transposed_padding, output_padding


def _in_layout_of(weight: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """`kernel` channels-last when `weight` is (which makes the convolution's output channels-last too)."""
    if weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous():
        return kernel.contiguous(memory_format=torch.channels_last)
    return kernel


def convolve_to_an_image(hidden_state: torch.Tensor, convolution: nn.Conv2d) -> torch.Tensor:
    """`convolution(hidden_state)` for the generator's last convolution, to the image's one (or three) channels,
    computed as a 1x1 convolution to kernel_size² x channels maps and a sum of shifted crops of them.

    The CPU's convolution kernels (oneDNN) work in blocks of 16 output channels, so a convolution to a single
    channel does 16 times its arithmetic; the 1x1 convolution is one matrix product with no such waste. Same
    function and gradients up to float rounding; it is 3x faster on the lecture's 64 x 50 x 50 feature maps.
    """
    out_channels, in_channels, kernel_size, width = convolution.weight.shape
    if (out_channels > 4 or kernel_size != width or convolution.stride != (1, 1) or convolution.dilation != (1, 1)
            or convolution.groups != 1 or convolution.padding_mode != "zeros" or isinstance(convolution.padding, str)
            or convolution.padding[0] != convolution.padding[1]):
        return nn.Conv2d.forward(convolution, hidden_state)
    # (out, in, k, k) -> (k * k * out, in, 1, 1): one map per kernel tap and output channel
    taps = convolution.weight.permute(2, 3, 0, 1).reshape(kernel_size * kernel_size * out_channels, in_channels, 1, 1)
    maps = nn.functional.conv2d(hidden_state, taps)  # (batch, k * k * out, height, width)
    padding = convolution.padding[0]
    maps = nn.functional.pad(maps, (padding,) * 4) if padding else maps
    height, width = maps.shape[-2] - kernel_size + 1, maps.shape[-1] - kernel_size + 1
    image = 0
    for row in range(kernel_size):
        for column in range(kernel_size):
            first = (row * kernel_size + column) * out_channels
            image = image + maps[:, first:first + out_channels, row:row + height, column:column + width]
    return image if convolution.bias is None else image + convolution.bias.view(1, -1, 1, 1)


def _upsampled_convolution_forward(convolution: nn.Conv2d, hidden_state: torch.Tensor) -> torch.Tensor:
    return upsample_and_convolve(hidden_state, convolution)


def _image_convolution_forward(convolution: nn.Conv2d, hidden_state: torch.Tensor) -> torch.Tensor:
    return convolve_to_an_image(hidden_state, convolution)


def install_fast_generator(generator):
    """Make `generator` (a GanGenerator) compute each upsampling + convolution as one transposed convolution and
    its last convolution as a 1x1 convolution plus shifted sums; returns it.

    Only forwards are replaced (bound on the instances, as Accelerate binds its autocast forward): the modules,
    parameters and their names stay, so optimizers, DDP, checkpoints and `save_pretrained` see the plain model.
    The upsampling module has no parameters; it becomes an identity because its work moves into the convolution.
    Calling it twice changes nothing more."""
    for block in getattr(generator, "blocks", ()):
        if isinstance(block.upsample, nn.Upsample) and isinstance(block.layer, nn.Conv2d):
            if block.upsample.scale_factor in (2, 2.0, (2, 2), (2.0, 2.0)) and block.upsample.mode == "nearest":
                block.upsample = nn.Identity()
                block.layer.forward = types.MethodType(_upsampled_convolution_forward, block.layer)
    output_layer = getattr(generator, "output_layer", None)
    if isinstance(output_layer, nn.Conv2d):
        output_layer.forward = types.MethodType(_image_convolution_forward, output_layer)
    return generator


FoldedBlock = tuple[torch.Tensor, torch.Tensor, int, int, nn.Module]  # kernel, bias, paddings, activation


def _folded_blocks(generator, dtype: torch.dtype) -> list[FoldedBlock] | None:
    """Each upsampling block as one transposed convolution with its batch norm folded in: (kernel, bias,
    padding, output padding, activation) in `dtype`, from the current parameters and running statistics; None
    when the generator is not the convolutional kind with norm-then-activation blocks this applies to."""
    folded = []
    for block in getattr(generator, "blocks", ()):
        layer, normalization = block.layer, block.normalization
        installed = (isinstance(layer, nn.Conv2d) and isinstance(block.upsample, nn.Identity)
                     and layer.forward.__func__ is _upsampled_convolution_forward)
        transposed = _transposed_kernel(layer) if installed else None
        if (transposed is None or block.norm_after_activation
                or not isinstance(normalization, (nn.BatchNorm2d, nn.Identity))):
            return None
        kernel, padding, output_padding = transposed
        bias = layer.bias if layer.bias is not None else torch.zeros_like(kernel[0, :, 0, 0])
        if isinstance(normalization, nn.BatchNorm2d):
            if normalization.running_var is None:
                return None
            scale = torch.rsqrt(normalization.running_var + normalization.eps)
            scale = scale * normalization.weight if normalization.affine else scale
            shift = normalization.bias if normalization.affine else 0.0
            kernel = kernel * scale.view(1, -1, 1, 1)
            bias = (bias - normalization.running_mean) * scale + shift
        kernel = _in_layout_of(layer.weight, kernel.to(dtype))
        folded.append((kernel.detach(), bias.detach().to(dtype), padding, output_padding, block.activation))
    return folded or None


def _activated_in_place(activation: nn.Module, hidden_state: torch.Tensor) -> torch.Tensor:
    """`activation(hidden_state)`, overwriting hidden_state for the usual ones (no second copy of a 10 MB map)."""
    if isinstance(activation, nn.ReLU):
        return hidden_state.relu_()
    if isinstance(activation, nn.LeakyReLU):
        return nn.functional.leaky_relu_(hidden_state, activation.negative_slope)
    return activation(hidden_state)


def _serving_forward(generator, latents: torch.Tensor, return_dict: bool | None = None, **kwargs):
    """The generator's forward; in evaluation without gradients, with each block's batch norm folded into its
    transposed convolution, in the generator's serving precision (refolded whenever a parameter or running
    statistic has changed or moved since, or the precision was changed)."""
    plain = type(generator).forward
    if generator.training or torch.is_grad_enabled() or kwargs:
        return plain(generator, latents, return_dict=return_dict, **kwargs)
    dtype = generator._serving_dtype
    state = [dtype] + [(tensor.data_ptr(), tensor._version) for tensor in generator.state_dict(keep_vars=True).values()]
    if generator._serving[0] != state:
        with torch.inference_mode(False), torch.no_grad():  # ordinary tensors, whatever mode the caller is in
            blocks = _folded_blocks(generator, dtype)
            output_layer = generator.output_layer
            if blocks is not None and dtype != output_layer.weight.dtype:
                output_layer = copy.deepcopy(output_layer).to(dtype)
                output_layer.forward = types.MethodType(_image_convolution_forward, output_layer)
        # a tuple, not module attributes: nothing of this enters the state dict
        generator._serving = (state, blocks, output_layer)
    _, blocks, output_layer = generator._serving
    if blocks is None:
        return plain(generator, latents, return_dict=return_dict)
    config = generator.config
    hidden_state = generator.projection_activation(generator.projection(latents))
    hidden_state = hidden_state.view(-1, config.generator_start_channels, config.generator_start_size,
                                     config.generator_start_size).to(dtype)
    for kernel, bias, padding, output_padding, activation in blocks:
        hidden_state = nn.functional.conv_transpose2d(hidden_state, kernel, bias, stride=2, padding=padding,
                                                      output_padding=output_padding)
        hidden_state = _activated_in_place(activation, hidden_state)
    images = torch.tanh(output_layer(hidden_state).to(latents.dtype))
    return_dict = return_dict if return_dict is not None else config.return_dict
    return GanGeneratorOutput(images=images) if return_dict else (images,)


def install_serving_generator(generator):
    """`install_fast_generator`, and for the generator a demo serves (evaluation, no gradients): batch norm
    folded into the transposed convolutions once, so each block is one convolution and its activation.

    In evaluation a batch norm is a fixed scale and shift per channel, which the convolution before it can
    apply to its own kernel and bias: the same images to float rounding, a 36-glyph grid in 48 ms instead of
    76 (one thread). Training, and any call with gradients, take the ordinary forward; the folded kernels are
    recomputed when the parameters change, and the state dict is untouched. Returns the generator."""
    install_fast_generator(generator)
    if getattr(generator, "config", None) is not None and generator.config.architecture == "convolutional":
        generator._serving = (None, None, None)  # (the state it was folded from, folded blocks, output layer)
        generator._serving_dtype = next(generator.parameters()).dtype
        generator.forward = types.MethodType(_serving_forward, generator)
    return generator


BFLOAT16_MAX_DIFFERENCE = 0.06  # on the generator's [-1, 1] scale: 8 of 255 grey levels, at the worst pixel
BFLOAT16_MIN_SPEEDUP = 1.25


def serve_in_bfloat16_if_faster(generator, count: int = 36, rounds: int = 3) -> bool:
    """Compute the served convolutions in bfloat16 when this CPU does them natively (AVX512-BF16, AMX), measured
    here, not assumed: `rounds` alternating timings of a `count`-glyph grid in each precision, and bfloat16 is
    kept only if its median is BFLOAT16_MIN_SPEEDUP times faster and its pictures stay within
    BFLOAT16_MAX_DIFFERENCE of float32's. On a Zen 4 core a 36-glyph grid takes 27 ms instead of 47, with the
    worst pixel 5 grey levels off and the average a tenth of one; a CPU without native bfloat16 emulates it,
    slower, and keeps float32. For the demo's pictures only: quality figures are measured in float32.
    Returns whether bfloat16 is used."""
    if getattr(generator, "_serving_dtype", None) != torch.float32 or next(generator.parameters()).device.type != "cpu":
        return False
    latents = generator.sample_latents(count, seed=0)
    timings = {torch.float32: [], torch.bfloat16: []}
    pictures = {}
    with torch.inference_mode():
        for round_ in range(rounds + 1):  # the first round only warms up (oneDNN builds its kernels)
            for dtype in timings:
                generator._serving_dtype = dtype
                started = time.perf_counter()
                pictures[dtype] = generator(latents).images
                if round_:
                    timings[dtype].append(time.perf_counter() - started)
    float32, bfloat16 = (sorted(times)[len(times) // 2] for times in timings.values())
    close = float((pictures[torch.bfloat16] - pictures[torch.float32]).abs().max()) <= BFLOAT16_MAX_DIFFERENCE
    generator._serving_dtype = torch.bfloat16 if close and float32 >= BFLOAT16_MIN_SPEEDUP * bfloat16 else torch.float32
    return generator._serving_dtype == torch.bfloat16


__all__ = ["convolve_to_an_image", "install_fast_generator", "install_serving_generator", "serve_in_bfloat16_if_faster",
           "upsample_and_convolve"]
