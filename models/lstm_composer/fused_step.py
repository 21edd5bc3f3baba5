"""One step of the stacked LSTM as a single C function, compiled for this CPU on first use (optional).

Why: at a few sequences a step is bound by reading the weights (about 5 MB for the shipped model).
PyTorch does it in ~25 operator calls (five products, then the gates' sigmoid, tanh and cell update layer
by layer), and their dispatch costs as much again as the arithmetic: ~105 us per token, head included, on
one core of the 2-core AMD EPYC we develop on. The same arithmetic as one C loop nest, which reads each
weight once and keeps the gates in cache, takes ~60 us there (~70 with the head, which stays a PyTorch
product), close to the time of merely summing those 5 MB (bench/bench_composer.py reports both paths). From five sequences on, oneDNN's
products are faster than these loops; there `lstm_finish_layer` still replaces each layer's six pointwise
calls (the gates to the new cell and hidden state) with one.

It needs a C compiler (`$CC`, `cc` or `gcc`) and glibc's vector maths at run time. Where either is missing,
where the build or its self-check fails, or with LSTM_COMPOSER_FUSED_STEP=0, the composer uses PyTorch's
operators: the same results up to float rounding. The source is compiled into a temporary folder (about
0.3 s), loaded, and the folder removed; nothing is written elsewhere.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

from transformers.utils import logging

logger = logging.get_logger(__name__)

ENVIRONMENT_SWITCH = "LSTM_COMPOSER_FUSED_STEP"

# Gates are laid out (i, f, o | g) per row, as LstmStepWeights reorders them; layer 0's input gates come from
# a per-token table that already holds both of its biases, so its `bias` row is unused.
C_SOURCE = r"""
#include <stdint.h>
#include <string.h>

/* glibc's vector maths (libmvec) provides these for AVX2 / AVX-512 loops, without -ffast-math. */
__attribute__((simd("notinbranch"))) float expf(float);
__attribute__((simd("notinbranch"))) float tanhf(float);

typedef struct {
    int64_t layers, rows, size, vocab;
    const float *token_gates; /* (vocab, 4 size) */
    const float *bias;        /* (layers, 4 size) */
    const float *recurrent;   /* (layers, size, 4 size): W_hh transposed */
    const float *inputs;      /* (layers - 1, size, 4 size): W_ih of layers 1.. transposed */
    float *hidden, *cell;     /* (layers, rows, size), read and updated */
    float *gates;             /* (layers, rows, 4 size), scratch */
} LstmStep;

/* y[r] += x[r] W for every row r, with x (rows, n), W (n, out) and y (rows, out): each row of W is read once. */
static void add_products(const float *restrict x, int64_t rows, int64_t n, const float *restrict w, int64_t out,
                         float *restrict y) {
    for (int64_t k = 0; k < n; k++) {
        const float *restrict w_row = w + k * out;
        for (int64_t r = 0; r < rows; r++) {
            const float x_k = x[r * n + k];
            float *restrict y_row = y + r * out;
            for (int64_t j = 0; j < out; j++) y_row[j] += x_k * w_row[j];
        }
    }
}

static int tokens_fit(const LstmStep *s, const int64_t *tokens) {
    for (int64_t r = 0; r < s->rows; r++)
        if (tokens[r] < 0 || tokens[r] >= s->vocab) return 0;
    return 1;
}

/* From a layer's gates (products and biases summed) to its new cell and hidden state. */
static void update_state(const LstmStep *s, int64_t layer) {
    const int64_t rows = s->rows, size = s->size, width = 4 * size;
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict g = s->gates + (layer * rows + r) * width;
        float *restrict h = s->hidden + (layer * rows + r) * size, *restrict c = s->cell + (layer * rows + r) * size;
        for (int64_t j = 0; j < size; j++) {
            const float input_gate = 1.0f / (1.0f + expf(-g[j]));
            const float forget_gate = 1.0f / (1.0f + expf(-g[size + j]));
            const float output_gate = 1.0f / (1.0f + expf(-g[2 * size + j]));
            const float cell_next = forget_gate * c[j] + input_gate * tanhf(g[3 * size + j]);
            c[j] = cell_next;
            h[j] = output_gate * tanhf(cell_next);
        }
    }
}

/* The whole step: feeds tokens[r] to row r; returns 0, or -1 (nothing changed) for a token outside the
   vocabulary. */
int lstm_advance(const LstmStep *s, const int64_t *tokens) {
    const int64_t rows = s->rows, size = s->size, width = 4 * size;
    if (!tokens_fit(s, tokens)) return -1;
    for (int64_t layer = 0; layer < s->layers; layer++) {
        float *restrict hidden = s->hidden + layer * rows * size, *restrict gates = s->gates + layer * rows * width;
        for (int64_t r = 0; r < rows; r++) {
            const float *start = layer ? s->bias + layer * width : s->token_gates + tokens[r] * width;
            memcpy(gates + r * width, start, sizeof(float) * width);
        }
        add_products(hidden, rows, size, s->recurrent + layer * size * width, width, gates);  /* h(t-1) W_hh */
        if (layer)  /* the layer below's h(t), just computed */
            add_products(hidden - rows * size, rows, size, s->inputs + (layer - 1) * size * width, width, gates);
        update_state(s, layer);
    }
    return 0;
}

/* The end of one layer when its products were done elsewhere (oneDNN, for larger batches): gates hold
   h(t-1) W_hh + bias (+ x W_ih above layer 0); layer 0 adds the tokens' input gates. Returns 0, or -1
   (nothing changed) for a token outside the vocabulary. */
int lstm_finish_layer(const LstmStep *s, int64_t layer, const int64_t *tokens) {
    const int64_t rows = s->rows, width = 4 * s->size;
    if (layer == 0) {
        if (!tokens_fit(s, tokens)) return -1;
        for (int64_t r = 0; r < rows; r++) {
            const float *restrict token_gates = s->token_gates + tokens[r] * width;
            float *restrict gates = s->gates + r * width;
            for (int64_t j = 0; j < width; j++) gates[j] += token_gates[j];
        }
    }
    update_state(s, layer);
    return 0;
}
"""


class LstmStepArguments(ctypes.Structure):
    """The C struct `LstmStep`: sizes and the addresses of tensors that the caller keeps alive."""

    _fields_ = [(name, ctypes.c_int64) for name in ("layers", "rows", "size", "vocab")] + [
        (name, ctypes.c_void_p)
        for name in ("token_gates", "bias", "recurrent", "inputs", "hidden", "cell", "gates")
    ]


class CompiledStep(NamedTuple):
    """The C functions; both take the `LstmStepArguments` of a stepper and return 0, or -1 (having changed
    nothing) when a token is outside the vocabulary."""

    advance: Callable  # lstm_advance(arguments, tokens): a whole step, for the "fused" layout
    finish_layer: Callable  # lstm_finish_layer(arguments, layer, tokens): a layer's gates -> its new state


def _compiler() -> list[str] | None:
    if os.environ.get("CC"):
        return shlex.split(os.environ["CC"])
    found = shutil.which("cc") or shutil.which("gcc")
    return [found] if found else None


def fused_step_enabled() -> bool:
    """False when LSTM_COMPOSER_FUSED_STEP is 0 / false / no / off (to compare, or to rule the kernel out)."""
    return os.environ.get(ENVIRONMENT_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


@functools.lru_cache(maxsize=None)
def compiled_lstm_step() -> CompiledStep | None:
    """The compiled functions, or None where they cannot be built (no compiler, no vector maths, another
    platform's toolchain)."""
    compiler = _compiler()
    if compiler is None:
        logger.info("No C compiler: the composer steps with PyTorch's operators")
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="lstm-composer-step-") as folder:
            source, library_path = Path(folder) / "step.c", Path(folder) / "step.so"
            source.write_text(C_SOURCE)
            # No -ffast-math: gcc < 13 then links start-up code that flushes subnormal floats to zero in the
            # whole process. A loaded library stays mapped after its folder is removed.
            subprocess.run([*compiler, "-O3", "-march=native", "-fno-math-errno", "-fPIC", "-std=c11", "-shared",
                            str(source), "-o", str(library_path), "-lm"], check=True, capture_output=True,
                           timeout=120)
            library = ctypes.CDLL(str(library_path))
            advance, finish_layer = library.lstm_advance, library.lstm_finish_layer
    except (OSError, subprocess.SubprocessError, AttributeError) as error:
        details = getattr(error, "stderr", b"") or b""
        logger.info(f"The compiled LSTM step is unavailable ({error} {details.decode(errors='replace')[-500:]}); "
                    "the composer steps with PyTorch's operators")
        return None
    advance.argtypes = [ctypes.POINTER(LstmStepArguments), ctypes.c_void_p]
    finish_layer.argtypes = [ctypes.POINTER(LstmStepArguments), ctypes.c_int64, ctypes.c_void_p]
    advance.restype = finish_layer.restype = ctypes.c_int
    return CompiledStep(advance, finish_layer)
