"""The LSTM composer as a transformers `PreTrainedModel`: a next-token model over MIDI tokens, and its composer.

Architecture (the lecture's Keras example 04/05): embedding -> `num_layers`
stacked LSTMs, each followed by dropout -> a linear head over the vocabulary.
Unlike the lecture, training predicts every position of a chunk (teacher
forcing), and generation carries the LSTM state `(h, c)` so each new token
costs one step instead of re-running a 128-token window.

`compose(...)` turns the model into a `mido.MidiFile`; `compose_ids(...)` is
the same at the token level. Strategies: "greedy", "sample" (temperature,
top-k, top-p: transformers' own logits warpers), "adaptive" (the lecture's
adaptive temperature) and "beam". Everything random draws from a
`torch.Generator` seeded by `seed`, so a seed reproduces a piece.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import secrets
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.generation.logits_process import (
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.utils import ModelOutput

from .configuration_lstm_composer import LstmComposerConfig
from .fused_step import LstmStepArguments, compiled_lstm_step, fused_step_enabled
from .midi_codec import BOS, SPECIAL_TOKENS, Codec, codec_from_config

STRATEGIES = ("greedy", "sample", "adaptive", "beam")
MAX_COMPOSE_TOKENS = 20_000
FUSED_MAX_ROWS = 4  # sequences up to which the compiled step beats oneDNN (see LstmStepWeights)


@dataclass
class LstmComposerOutput(ModelOutput):
    """`loss` (when labels are given), `logits` (batch, time, vocab) and the LSTM `state` after the last step."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    state: tuple[torch.Tensor, torch.Tensor] | None = None


def draw(probabilities: torch.Tensor, generator: torch.Generator | None, out: torch.Tensor | None = None
         ) -> torch.Tensor:
    """One index per row of `probabilities` (rows, classes), drawn with those probabilities (into `out`).

    The exponential race argmax(p / q), q ~ Exp(1): what torch.multinomial computes for one sample (the same
    draws from the same generator), without its input checks, which cost more than the draw (18 vs 7 us a
    token at batch 1). Rows come from a softmax, so they need none.
    """
    race = torch.empty_like(probabilities).exponential_(generator=generator)
    return torch.argmax(torch.div(probabilities, race, out=race), dim=-1, out=out)


@contextlib.contextmanager
def one_intra_op_thread():
    """Run single-token steps on one thread: they are too small to split, and on a busy machine waiting for a
    second thread costs ten times the step itself (measured: 1.6 ms vs 24 ms per step on 2 shared cores).
    The setting is per calling thread with PyTorch's OpenMP backend, and restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class AdaptiveTemperatureLogitsWarper(LogitsProcessor):
    """The lecture's example 05a: heat up when the piece repeats itself, cool down otherwise.

    Before each token: if the last n tokens equal the n before them for any
    n in (2, 3, 4), the temperature is multiplied by 1.15, else by 0.95, and
    clamped to [0.2, 5]. Logits are divided by it (the lecture's
    `p ** (1 / T)` renormalised). One temperature per sequence of the batch.
    """

    def __init__(self, temperature: float, lengths=(2, 3, 4), heat: float = 1.15, cool: float = 0.95,
                 low: float = 0.2, high: float = 5.0):
        self.initial, self.lengths, self.heat, self.cool, self.low, self.high = temperature, lengths, heat, cool, low, high
        self.temperature: torch.Tensor | None = None
        self.history: list[list[float]] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        if self.temperature is None:
            self.temperature = torch.full((input_ids.shape[0],), float(self.initial))
        repeats = torch.zeros(input_ids.shape[0], dtype=torch.bool)
        for n in self.lengths:
            if input_ids.shape[1] >= 2 * n:
                repeats |= (input_ids[:, -n:] == input_ids[:, -2 * n:-n]).all(dim=1).cpu()
        self.temperature = torch.where(repeats, self.temperature * self.heat, self.temperature * self.cool)
        self.temperature = self.temperature.clamp(self.low, self.high)
        self.history.append(self.temperature.tolist())
        return scores / self.temperature.to(scores.device, scores.dtype)[:, None]


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
            steppers = [LstmStepper(LstmStepWeights.from_modules(lstm, embedding, head, layout), *state,
                                    compiled=compiled)
                        for layout, compiled in (("copies", False), ("fused", True), ("views", True))]
            for tokens in ([4, 0, 10], [7, 7, 3]):
                token_ids = torch.tensor(tokens)
                reference, *others = (stepper.weights.head(stepper.advance(token_ids)) for stepper in steppers)
                if not all(torch.allclose(other, reference, atol=1e-5) for other in others):
                    return False
        return True
    except Exception:  # noqa: BLE001 - any failure of an optional accelerator means: do without it
        return False


@dataclass(frozen=True)
class LstmStepWeights:
    """The weights a generation step reads, laid out for `LstmStepper` (gates reordered i, f, o | g).

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


class LstmStepper:
    """The stacked LSTM advanced one token at a time, for a fixed batch, in buffers made once.

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
        cell_tanh = torch.empty_like(self.cell)
        self.layers = [
            (gates, gates[:, :3 * size], gates[:, :size], gates[:, size:2 * size], gates[:, 2 * size:3 * size],
             gates[:, 3 * size:], self.cell[layer], cell_tanh[layer], self.hidden[layer])
            for layer, gates in enumerate(self.gates)
        ]

    def advance(self, token_ids: torch.LongTensor) -> torch.Tensor:
        """Feed one token per sequence (batch,); returns the top layer's new hidden state (batch, size), a view
        of a buffer that the next call overwrites."""
        if self.compiled is not None:
            return self._advance_compiled(token_ids)
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


class LstmComposerPreTrainedModel(PreTrainedModel):
    config_class = LstmComposerConfig
    base_model_prefix = "lstm_composer"
    main_input_name = "input_ids"

    @torch.no_grad()
    def _init_weights(self, module):
        # Keras' defaults, as in the lecture: uniform(-0.05, 0.05) embeddings, Glorot input kernels,
        # orthogonal recurrent kernels, zero biases but a forget-gate bias of 1.
        if isinstance(module, nn.Embedding):
            nn.init.uniform_(module.weight, -0.05, 0.05)
        elif isinstance(module, nn.LSTM):
            for name, parameter in module.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(parameter)
                elif name.startswith("weight_hh"):
                    for gate in parameter.chunk(4, dim=0):
                        nn.init.orthogonal_(gate)
                elif name.startswith("bias_ih"):
                    nn.init.zeros_(parameter)
                    parameter[module.hidden_size:2 * module.hidden_size] = 1.0  # gates are i, f, g, o
                elif name.startswith("bias_hh"):
                    nn.init.zeros_(parameter)
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)


class LstmComposerForCausalLM(LstmComposerPreTrainedModel):
    def __init__(self, config: LstmComposerConfig):
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
        # nn.LSTM applies dropout between its layers; the dropout after the last one is ours.
        self.lstm = nn.LSTM(config.embedding_size, config.hidden_size, num_layers=config.num_layers,
                            dropout=config.dropout if config.num_layers > 1 else 0.0, batch_first=True)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        self.codec: Codec = codec_from_config(config)
        self._step_weights: tuple[tuple, dict] | None = None  # (weights' identity, {layout: weights}): `_stepper`
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        labels: torch.LongTensor | None = None,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> LstmComposerOutput | tuple:
        """Next-token logits for every position; with `labels` (usually the input ids), the mean loss
        of predicting `labels[:, t + 1]` from the tokens up to t (positions labelled -100 are skipped).

        `state` continues from an earlier call: running a sequence in pieces, passing each
        call's `state` on, gives the same logits as running it whole.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        embedded = self.embedding(input_ids)  # (batch, time, embedding)
        hidden, state = self.lstm(embedded, state)  # (batch, time, hidden); state: 2 x (layers, batch, hidden)
        logits = self.head(self.dropout(hidden))  # (batch, time, vocab)

        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1), ignore_index=-100
            )
        if not return_dict:
            return tuple(value for value in (loss, logits, state) if value is not None)
        return LstmComposerOutput(loss=loss, logits=logits, state=state)

    # ------------------------------------------------------------------ composing
    def random_primer(self, generator: torch.Generator, num_notes: int = 4) -> list[int]:
        """A random start: for the lecture codec random chords (as its example 04a), for the
        performance codec <bos> and `num_notes` random notes of a quarter or an eighth in the middle range."""
        vocabulary = self.codec.vocabulary
        if self.config.codec == "lecture":
            picks = torch.randint(len(SPECIAL_TOKENS), len(vocabulary), (num_notes,), generator=generator)
            return [BOS, *picks.tolist()]
        token_to_id, steps = self.codec.token_to_id, self.config.steps_per_beat
        ids = [BOS]
        for index in range(num_notes):
            pitch = 55 + int(torch.randint(0, 25, (1,), generator=generator))
            duration = steps if int(torch.randint(0, 2, (1,), generator=generator)) else max(1, steps // 2)
            if index:
                ids.append(token_to_id[f"shift_{min(duration, self.config.max_shift_steps)}"])
            ids += [token_to_id[f"note_{pitch}"], token_to_id[f"dur_{min(duration, self.config.max_duration_steps)}"]]
        return ids

    def _processors(self, strategy: str, temperature: float, top_k: int, top_p: float) -> LogitsProcessorList:
        """transformers' warpers for the sampling strategies (they see the logits of musical tokens only)."""
        processors = LogitsProcessorList()
        if strategy == "adaptive":
            processors.append(AdaptiveTemperatureLogitsWarper(float(temperature)))
        elif strategy == "sample":
            if temperature != 1.0:
                processors.append(TemperatureLogitsWarper(float(temperature)))
            if top_k:
                processors.append(TopKLogitsWarper(int(top_k)))
            if top_p < 1.0:
                processors.append(TopPLogitsWarper(float(top_p)))
        return processors

    def _check_compose_arguments(self, primer, num_tokens, strategy, temperature, top_k, top_p, num_beams):
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        if not 1 <= num_tokens <= MAX_COMPOSE_TOKENS:
            raise ValueError(f"num_tokens must lie in [1, {MAX_COMPOSE_TOKENS}], got {num_tokens}")
        if not 0.0 < temperature <= 100.0:
            raise ValueError(f"temperature must lie in (0, 100], got {temperature}")
        if not 0 <= top_k <= self.config.vocab_size:
            raise ValueError(f"top_k must lie in [0, {self.config.vocab_size}] (0 = off), got {top_k}")
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must lie in (0, 1], got {top_p}")
        if not 1 <= num_beams <= 64:
            raise ValueError(f"num_beams must lie in [1, 64], got {num_beams}")
        if not primer or any(not 0 <= int(index) < self.config.vocab_size for index in primer):
            raise ValueError("the primer must be a non-empty list of ids of this model's vocabulary")

    @torch.inference_mode()
    def step(self, token_ids: torch.LongTensor, state: tuple[torch.Tensor, torch.Tensor]):
        """Logits for the token after `token_ids` (batch,), continuing from `state`; returns (logits, new state).

        Equal (up to float rounding) to running `forward` on the whole sequence at once.
        """
        stepper = self._stepper(state)
        logits = self.head(stepper.advance(token_ids)).float()  # dropout is off when composing
        return logits, (stepper.hidden, stepper.cell)

    def _prime(self, primer: list[int], batch: int) -> tuple[torch.Tensor, LstmStepper]:
        """Run the primer through the LSTM at once (one oneDNN call); the logits after it (batch, vocab) and a
        stepper that continues from its state. The head reads the last position only."""
        embedded = self.embedding(torch.tensor([primer], device=self.device).expand(batch, -1))
        hidden, state = self.lstm(embedded)
        return self.head(hidden[:, -1]).float(), self._stepper(state)

    def _stepper(self, state: tuple[torch.Tensor, torch.Tensor]) -> LstmStepper:
        """A stepper continuing from `state`. Its weight layout is made once (a few ms) and reused until a
        weight changes (training steps and loading bump the tensors' version counters; `.to` moves them)."""
        parameters = (*self.embedding.parameters(), *self.lstm.parameters(), *self.head.parameters())
        key = tuple((parameter.data_ptr(), parameter.dtype, parameter._version) for parameter in parameters)
        if self._step_weights is None or self._step_weights[0] != key:
            self._step_weights = (key, {})
        layouts = self._step_weights[1]
        layout = LstmStepWeights.layout_for(state[0].shape[1], self.head.weight.dtype, self.head.weight.device)
        if layout not in layouts:
            layouts[layout] = LstmStepWeights.from_modules(self.lstm, self.embedding, self.head, layout)
        return LstmStepper(layouts[layout], *state)

    @torch.inference_mode()
    def compose_ids(
        self,
        primer: list[int] | None = None,
        num_tokens: int = 512,
        strategy: str = "sample",
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        num_beams: int = 4,
        seed: int | None = None,
        num_sequences: int = 1,
        callback=None,
    ) -> list[list[int]]:
        """`num_sequences` continuations of `primer` (ids; <bos> when None), `num_tokens` new ids each.

        Special tokens are never generated, so a piece has the length asked for.
        `callback(done, total)` is called every 64 tokens, for a progress bar.
        """
        generator = torch.Generator().manual_seed(int(seed) if seed is not None else secrets.randbits(62))
        primer = list(primer) if primer is not None else [BOS]
        self._check_compose_arguments(primer, num_tokens, strategy, temperature, top_k, top_p, num_beams)
        was_training = self.training
        self.eval()
        try:
            with one_intra_op_thread():
                if strategy == "beam":
                    return [self._beam_search(primer, num_tokens, num_beams, callback)[0]] * num_sequences
                processors = self._processors(strategy, temperature, top_k, top_p)
                return self._sample(primer, num_tokens, strategy == "greedy", processors, generator, num_sequences,
                                    callback)
        finally:
            self.train(was_training)

    def _sample(self, primer, num_tokens, greedy, processors, generator, num_sequences, callback):
        # At batch 1 a step is ~100 us, so the loop itself is kept to a few calls that allocate nothing: each
        # token is chosen straight into its row of `chosen`, which the next step reads, and the head writes
        # into one buffer. The full ids are kept only for warpers, which read the history.
        special, start = len(SPECIAL_TOKENS), len(primer)
        logits, stepper = self._prime(primer, num_sequences)
        scores = logits[:, special:]  # musical tokens only: special tokens are never generated
        head_out = torch.empty(scores.shape, dtype=self.head.weight.dtype, device=self.device)
        chosen = torch.empty(num_tokens, num_sequences, dtype=torch.long, device=self.device)
        draws_here = self.device.type == "cpu"  # the generator lives on the CPU
        sequence = None
        if processors:
            sequence = torch.empty(num_sequences, start + num_tokens, dtype=torch.long, device=self.device)
            sequence[:, :start] = torch.tensor(primer, device=self.device)
        for step, row in enumerate(chosen):
            if processors:
                scores = processors(sequence[:, :start + step], scores)
            if greedy:
                torch.argmax(scores, dim=-1, out=row)
            elif draws_here:
                draw(scores.softmax(dim=-1), generator, out=row)
            else:
                row.copy_(draw(scores.softmax(dim=-1).cpu(), generator))
            row.add_(special)
            if processors:
                sequence[:, start + step] = row
            if step + 1 < num_tokens:
                scores = stepper.weights.head(stepper.advance(row), out=head_out).float()  # one step, not a window
            if callback is not None and (step + 1) % 64 == 0:
                callback(step + 1, num_tokens)
        return chosen.t().tolist()

    @torch.inference_mode()
    def _beam_search(self, primer, num_tokens, num_beams, callback) -> tuple[list[int], float]:
        """The `num_beams` most likely continuations, extended one token at a time; the best at the end.

        Beam search can lose the greedy path on the way and end below it, so the
        greedy continuation competes at the end too: the result is never less
        likely than greedy decoding.
        """
        special = len(SPECIAL_TOKENS)
        beams = min(num_beams, self.config.vocab_size - special)
        logits, stepper = self._prime(primer, beams)  # every beam starts as the primer; one is kept at first
        log_probs = logits[:1, special:].log_softmax(dim=-1)  # (beams, musical tokens)
        sequences = torch.empty(1, 0, dtype=torch.long, device=self.device)
        scores = torch.zeros(1, device=self.device)
        for step in range(num_tokens):
            candidates = (scores[:, None] + log_probs).view(-1)
            scores, flat = candidates.topk(beams)
            beam, token = flat // log_probs.shape[1], flat % log_probs.shape[1] + special
            sequences = torch.cat([sequences[beam], token[:, None]], dim=1)
            stepper.reorder(beam)
            if step + 1 < num_tokens:
                log_probs = stepper.weights.head(stepper.advance(token)).float().log_softmax(dim=-1)
            if callback is not None and (step + 1) % 64 == 0:
                callback(step + 1, num_tokens)
        best, best_score = sequences[0].tolist(), float(scores[0])
        greedy = self._sample(primer, num_tokens, True, LogitsProcessorList(), None, 1, None)[0]
        greedy_score = self.log_likelihood(primer, greedy)
        return (greedy, greedy_score) if greedy_score > best_score else (best, best_score)

    @torch.inference_mode()
    def log_likelihood(self, primer: list[int], continuation: list[int]) -> float:
        """log p(continuation | primer) under the model, with special tokens excluded as in composing."""
        was_training = self.training
        self.eval()
        try:
            ids = torch.tensor([list(primer) + list(continuation)], device=self.device)
            logits = self(input_ids=ids).logits[0, len(primer) - 1:-1].float()  # predicts the continuation
            log_probs = logits[:, len(SPECIAL_TOKENS):].log_softmax(dim=-1)
            targets = ids[0, len(primer):, None] - len(SPECIAL_TOKENS)
            if (targets < 0).any():
                return float("-inf")
            return float(log_probs.gather(1, targets).sum())
        finally:
            self.train(was_training)

    def compose(
        self,
        num_tokens: int = 512,
        primer=None,
        strategy: str = "sample",
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 0.95,
        num_beams: int = 4,
        seed: int | None = None,
        tempo_bpm: float | None = None,
        program: int | None = None,
        include_primer: bool = True,
    ):
        """A new piece as a `mido.MidiFile` (`.save("piece.mid")` writes it).

        `primer`: None (a few random notes), a MIDI file (bytes, path or
        mido.MidiFile) to continue, or a list of token ids. `tempo_bpm` and
        `program` (General MIDI instrument) default to the config's.
        """
        generator = torch.Generator().manual_seed(int(seed) if seed is not None else secrets.randbits(62))
        if primer is None:
            primer_ids = self.random_primer(generator)
        elif isinstance(primer, (list, tuple)):
            primer_ids = [int(index) for index in primer]
        else:
            primer_ids = self.codec.ids_from_midi(primer)[-self.config.window:]
        new_ids = self.compose_ids(primer_ids, num_tokens, strategy, temperature, top_k, top_p, num_beams,
                                   seed=int(torch.randint(0, 2**62, (1,), generator=generator)))[0]
        ids = primer_ids + new_ids if include_primer else new_ids
        return self.codec.midi_from_ids(ids, tempo_bpm or self.config.tempo_bpm,
                                        self.config.program if program is None else program)


__all__ = ["LstmComposerPreTrainedModel", "LstmComposerForCausalLM", "LstmComposerOutput", "LstmStepper",
           "LstmStepWeights",
           "AdaptiveTemperatureLogitsWarper", "STRATEGIES"]
