"""The hub's fast CPU step for the composer, installed in the models the hub serves (`install_fast_step`).

The model's own code (models/lstm_composer, which travels with the weights) steps with plain PyTorch: each
token is `forward` on one token, ~1-2 ms at batch 1 for the shipped model, mostly nn.LSTM re-packing its
weights for oneDNN on every call. Here the weights are laid out once per batch size (`LstmStepWeights`) and
a step (`FastLstmStepper`) is either one call of the C function of fused_step.py (up to four sequences,
~70 us a token) or PyTorch's operators over those layouts, with oneDNN's packed products (PyTorch's private
`torch.ops.mkldnn` ops, checked before use) for larger batches. The logits are the plain step's up to float
rounding, so the same seed gives the same piece either way (tests/test_lstm_composer.py checks both).
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass

import torch
from torch import nn

from models.lstm_composer.midi_codec import SPECIAL_TOKENS

from .fused_step import LstmStepArguments, compiled_lstm_step, fused_step_enabled

FUSED_MAX_ROWS = 4  # sequences up to which the compiled step beats oneDNN (see LstmStepWeights)


def _onednn_linear(rows: torch.Tensor, packed_weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(rows, packed_weight, bias, "none", [], "")


@functools.lru_cache(maxsize=None)
def _onednn_packing_works(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether oneDNN's packed linear (the kernels nn.LSTM itself runs on CPU) can be used here. Its ops are
    private to PyTorch, so they are tried on a small product and any failure or disagreement means no."""
    if dtype != torch.float32 or device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    try:
        generator = torch.Generator().manual_seed(0)
        weight, rows = torch.randn(64, 32, generator=generator), torch.randn(4, 32, generator=generator)
        packed = torch.ops.mkldnn._reorder_linear_weight(weight)
        return bool(torch.allclose(_onednn_linear(rows, packed, None), rows @ weight.t(), atol=1e-4))
    except Exception:  # noqa: BLE001 - an op missing or changed in this PyTorch: use the public products
        return False


def _compiled_step_usable(dtype: torch.dtype, device: torch.device) -> bool:
    return dtype == torch.float32 and device.type == "cpu" and fused_step_enabled() and _compiled_step_works()


@functools.lru_cache(maxsize=None)
def _compiled_step_works() -> bool:
    """Whether the C functions of fused_step.py build here and step a small random LSTM as PyTorch's operators
    do, both the whole step and the per-layer update. Its modules are made under a forked RNG, so the caller's
    random state is left as it was."""
    if compiled_lstm_step() is None:
        return False
    try:
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(0)
            lstm, embedding, head = nn.LSTM(8, 16, num_layers=3), nn.Embedding(11, 8), nn.Linear(16, 11)
            state = (torch.randn(3, 3, 16), torch.randn(3, 3, 16))
            steppers = [FastLstmStepper(LstmStepWeights.from_modules(lstm, embedding, head, layout), *state,
                                        compiled=compiled)
                        for layout, compiled in (("copies", False), ("fused", True), ("views", True))]
            for tokens in ([4, 0, 10], [7, 7, 3]):
                token_ids = torch.tensor(tokens)
                reference, *others = (stepper.advance(token_ids) for stepper in steppers)
                if not all(torch.allclose(other, reference, atol=1e-5) for other in others):
                    return False
        return True
    except Exception:  # noqa: BLE001 - any failure of an optional accelerator means: do without it
        return False


@dataclass(frozen=True)
class LstmStepWeights:
    """The weights a generation step reads, laid out for `FastLstmStepper` (gates reordered i, f, o | g).

    The products' speed depends on their layout and on the rows (sequences) per step. The shipped model's
    five LSTM products on one core (us, at 1 / 4 / 16 rows): contiguous (in, out) copies for MKL 84 / 290 /
    600; transposed views of PyTorch's (out, in) weights for MKL 95 / 207 / 506; oneDNN's packed weights
    150 / 165 / 300. A whole step with its head (us, at 1 / 2 / 4 / 8 / 16 rows): the compiled step of
    fused_step.py on the copies ("fused") 69-76 / 87-93 / 169-175 / 312-353 / 686-980, MKL copies
    109-115 / 168-171 / 401-524 / 479-548 / 866-930, oneDNN 186-189 / 194-201 / 214-219 / 289-291 / 410-429
    (two runs; the last two with PyTorch's operators only). So "fused" up to 4 rows where it builds, else
    "copies" for 1-2 rows, else "onednn" where it works, else "views".
    """

    layout: str
    token_gates: torch.Tensor  # layer 0's input gates with both its biases, for every token: (vocab, 4 size)
    bias: torch.Tensor  # b_ih + b_hh of layers 1.. (zeros for layer 0, whose biases are in token_gates): (layers, 1, 4 size)
    recurrent: torch.Tensor | list[torch.Tensor]  # W_hh of every layer: (layers, size, 4 size), or packed each
    inputs: list[torch.Tensor]  # W_ih of layers 1..: (size, 4 size) each, or packed
    head_weight: torch.Tensor  # the head for musical tokens only (special ones are never generated): (size, tokens), or packed
    head_bias: torch.Tensor  # (tokens,)

    @staticmethod
    def layout_for(rows: int, dtype: torch.dtype, device: torch.device) -> str:
        if rows <= FUSED_MAX_ROWS and _compiled_step_usable(dtype, device):
            return "fused"
        if rows <= 2:
            return "copies"
        return "onednn" if _onednn_packing_works(dtype, device) else "views"

    @classmethod
    def from_modules(cls, lstm: nn.LSTM, embedding: nn.Embedding, head: nn.Linear, layout: str) -> LstmStepWeights:
        size = lstm.hidden_size
        order = torch.cat([torch.arange(2 * size), torch.arange(3 * size, 4 * size), torch.arange(2 * size, 3 * size)])

        def laid_out(weight: torch.Tensor) -> torch.Tensor:  # (..., out, in) as the layout wants it
            if layout == "onednn":
                return torch.ops.mkldnn._reorder_linear_weight(weight.contiguous())
            transposed = weight.transpose(-2, -1)  # (..., in, out)
            return transposed.contiguous() if layout in ("copies", "fused") else transposed

        (first_input, _, first_bias_input, first_bias_hidden), *upper = lstm.all_weights
        recurrent = torch.stack([weights[1][order] for weights in lstm.all_weights])
        inputs = [laid_out(weight_input[order]) for weight_input, *_ in upper]
        if layout == "fused" and inputs:
            inputs = list(torch.stack(inputs).unbind(0))  # one block, as the C kernel reads it
        special = len(SPECIAL_TOKENS)
        return cls(
            layout=layout,
            token_gates=torch.addmm((first_bias_input + first_bias_hidden)[order], embedding.weight,
                                    first_input[order].t()),
            bias=torch.stack([torch.zeros_like(first_bias_input)]
                             + [(bias_input + bias_hidden)[order] for _, _, bias_input, bias_hidden in upper])[:, None],
            recurrent=[laid_out(layer) for layer in recurrent] if layout == "onednn" else laid_out(recurrent),
            inputs=inputs,
            head_weight=laid_out(head.weight[special:]),
            head_bias=head.bias[special:],
        )

    def recurrent_into(self, hidden: torch.Tensor, gates: torch.Tensor) -> None:
        """gates = h W_hh + b for every layer: hidden (layers, batch, size) -> gates (layers, batch, 4 size)."""
        if self.layout == "onednn":
            for layer, weight in enumerate(self.recurrent):
                gates[layer].copy_(_onednn_linear(hidden[layer], weight, self.bias[layer, 0]))
        else:
            torch.baddbmm(self.bias, hidden, self.recurrent, out=gates)

    def add_input(self, layer: int, below: torch.Tensor, gates: torch.Tensor) -> None:
        """gates += x W_ih for layer >= 1, whose input x is the layer below's new hidden state (batch, size)."""
        if self.layout == "onednn":
            gates.add_(_onednn_linear(below, self.inputs[layer - 1], None))
        else:
            gates.addmm_(below, self.inputs[layer - 1])

    def head(self, hidden: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of the musical tokens (batch, tokens) from the top layer's hidden state (batch, size), written
        into `out` when given."""
        if self.layout == "onednn":
            logits = _onednn_linear(hidden, self.head_weight, self.head_bias)
            return logits if out is None else out.copy_(logits)
        return torch.addmm(self.head_bias, hidden, self.head_weight, out=out)


class FastLstmStepper:
    """The stacked LSTM advanced one token at a time, for a fixed batch, in buffers made once: the plain
    `LstmStepper`'s members (`advance`, `reorder`, `state`) and logits, faster.

    Why not nn.LSTM for one step: its oneDNN kernel re-packs the weights on every call, several times the
    cost of the step. At batch 1 a step is bound by reading the weights from memory (about 5 MB for the
    shipped model, ~80 us on one core) and by the cost of each operator call (~1 us), so: layer 0's
    input gates are precomputed for every token; the recurrent products of all layers are done before
    the layers' other work (one batched product for MKL); the gates are reordered (i, f, o | g) so that
    one sigmoid and one tanh cover them; and every view and output buffer exists before the first step,
    leaving about 20 calls per step. Where the C functions of fused_step.py are usable (`compiled`, by
    default where they build and are not switched off), the "fused" layout does the whole step in one call,
    and the other layouts do their products as above and each layer's gates-to-state update in one call.
    `LstmStepWeights` lays the weights out for the batch size. Same maths as nn.LSTM (gates i, f, g, o;
    c' = f c + i g; h' = o tanh(c')).
    """

    def __init__(self, weights: LstmStepWeights, hidden: torch.Tensor, cell: torch.Tensor,
                 compiled: bool | None = None):
        # hidden, cell: (layers, batch, size), as the `state` of forward; copied, never written.
        self.weights = weights
        self.hidden = hidden.clone(memory_format=torch.contiguous_format)
        self.cell = cell.clone(memory_format=torch.contiguous_format)
        layers, rows, size = self.hidden.shape
        self.gates = self.hidden.new_empty(layers, rows, 4 * size)
        if compiled is None:
            compiled = weights.layout == "fused" or _compiled_step_usable(self.hidden.dtype, self.hidden.device)
        self.compiled = None  # (the C functions, their arguments) when used
        if compiled or weights.layout == "fused":
            functions = compiled_lstm_step()
            if functions is None:
                raise RuntimeError("the compiled LSTM step is not available here; use another layout")
            fused = weights.layout == "fused"  # only then are the products' weights laid out for C

            def address(tensor: torch.Tensor | None) -> int | None:  # the tensors live as long as `self`
                return tensor.data_ptr() if tensor is not None else None

            arguments = LstmStepArguments(
                layers, rows, size, weights.token_gates.shape[0], address(weights.token_gates),
                address(weights.bias if fused else None), address(weights.recurrent if fused else None),
                address(weights.inputs[0] if fused and weights.inputs else None),
                address(self.hidden), address(self.cell), address(self.gates))
            self.compiled = (functions, ctypes.byref(arguments))
        self.logits = self.hidden.new_empty(rows, weights.head_bias.shape[0])  # musical tokens only
        cell_tanh = torch.empty_like(self.cell)
        self.layers = [
            (gates, gates[:, :3 * size], gates[:, :size], gates[:, size:2 * size], gates[:, 2 * size:3 * size],
             gates[:, 3 * size:], self.cell[layer], cell_tanh[layer], self.hidden[layer])
            for layer, gates in enumerate(self.gates)
        ]

    @property
    def state(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.hidden, self.cell

    def advance(self, token_ids: torch.LongTensor) -> torch.Tensor:
        """Feed one token per sequence (batch,); returns the logits of the musical tokens after it (batch,
        tokens), in a buffer that the next call overwrites (float32 models; others get a float32 copy)."""
        if self.compiled is not None:
            top = self._advance_compiled(token_ids)
        else:
            top = self._advance_operators(token_ids)
        return self.weights.head(top, out=self.logits).float()

    def _advance_operators(self, token_ids: torch.LongTensor) -> torch.Tensor:
        """The step with PyTorch's operators; returns the top layer's new hidden state (batch, size)."""
        weights = self.weights
        weights.recurrent_into(self.hidden, self.gates)  # every layer's h W_hh + b, from the previous step
        below = None
        for layer, (gates, sigmoid_gates, input_gate, forget_gate, output_gate, candidate, cell, cell_tanh,
                    hidden) in enumerate(self.layers):
            if layer:
                weights.add_input(layer, below, gates)
            else:
                gates.add_(weights.token_gates.index_select(0, token_ids))
            sigmoid_gates.sigmoid_()
            candidate.tanh_()
            cell.mul_(forget_gate).addcmul_(input_gate, candidate)
            torch.mul(output_gate, torch.tanh(cell, out=cell_tanh), out=hidden)
            below = hidden
        return below

    def _advance_compiled(self, token_ids: torch.LongTensor) -> torch.Tensor:
        (functions, arguments), rows = self.compiled, self.hidden.shape[1]
        if token_ids.dtype != torch.int64 or not token_ids.is_contiguous():
            token_ids = token_ids.to(torch.int64).contiguous()
        if token_ids.numel() != rows or token_ids.device.type != "cpu":
            raise ValueError(f"expected {rows} token ids on the CPU, got shape {tuple(token_ids.shape)}")
        tokens = token_ids.data_ptr()
        if self.weights.layout == "fused":
            status = functions.advance(arguments, tokens)
        else:
            weights = self.weights
            weights.recurrent_into(self.hidden, self.gates)
            status = functions.finish_layer(arguments, 0, tokens)  # only layer 0 reads the tokens
            if status == 0:
                for layer in range(1, len(self.layers)):
                    weights.add_input(layer, self.hidden[layer - 1], self.gates[layer])
                    functions.finish_layer(arguments, layer, tokens)
        if status != 0:  # the C code checks the tokens before it changes any state
            raise IndexError("a token id lies outside the vocabulary")
        return self.layers[-1][-1]  # the top layer's hidden state

    def reorder(self, rows: torch.LongTensor) -> None:
        """Keep the state of sequences `rows` (batch,), e.g. the beams that survive a step of beam search."""
        self.hidden.copy_(self.hidden[:, rows])
        self.cell.copy_(self.cell[:, rows])


class FastSteps:
    """The hub's `stepper_factory`: `FastLstmStepper`s for a model, over weight layouts made once (a few ms) and
    reused until a weight changes (training steps and loading bump the tensors' version counters; `.to` moves
    them)."""

    def __init__(self):
        self._weights_key: tuple | None = None
        self._layouts: dict[str, LstmStepWeights] = {}

    def __call__(self, model, state: tuple[torch.Tensor, torch.Tensor]) -> FastLstmStepper:
        parameters = (*model.embedding.parameters(), *model.lstm.parameters(), *model.head.parameters())
        key = tuple((parameter.data_ptr(), parameter.dtype, parameter._version) for parameter in parameters)
        if key != self._weights_key:
            self._weights_key, self._layouts = key, {}
        layout = LstmStepWeights.layout_for(state[0].shape[1], model.head.weight.dtype, model.head.weight.device)
        if layout not in self._layouts:
            self._layouts[layout] = LstmStepWeights.from_modules(model.lstm, model.embedding, model.head, layout)
        return FastLstmStepper(self._layouts[layout], *state)


def install_fast_step(model):
    """Make `model` (an LstmComposerForCausalLM) compose with the fast step; returns it. Its pieces stay the same."""
    model.stepper_factory = FastSteps()
    return model


__all__ = ["FastLstmStepper", "FastSteps", "LstmStepWeights", "install_fast_step"]
