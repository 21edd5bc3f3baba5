"""One step of the stacked LSTM as a single C function, compiled for this CPU on first use (optional).

The hub's own speed-up for composing on the CPU (`fast_step.py` lays the weights out for it and installs it
in the models the hub serves); it does not travel with the weights, whose code stays plain PyTorch.

Why: at a few sequences a step is bound by reading the weights (about 5 MB for the shipped model).
PyTorch does it in ~25 operator calls (five products, then the gates' sigmoid, tanh and cell update layer
by layer), and their dispatch costs as much again: ~105 us per token, head included, on
one core of the 2-core AMD EPYC we develop on. The same arithmetic as one C loop nest, which reads each
weight once and keeps the gates in cache, takes ~60 us there (~70 with the head, which stays a PyTorch
product), close to the time of merely summing those 5 MB (bench/bench_composer.py reports both paths).
From five sequences on, oneDNN's products are faster than these loops; there `lstm_finish_layer` still
replaces each layer's six pointwise calls (the gates to the new cell and hidden state) with one.

It needs a C compiler and glibc's vector maths at run time. The compiler is the first of /usr/bin/cc,
/usr/bin/gcc and /usr/bin/clang that exists (never one found on PATH, never `$CC`), or the one whose absolute
path LSTM_COMPOSER_CC names (an explicit opt-in; any other value there is refused and logged). It runs without
a shell, with a fixed environment, and is killed with everything it started after COMPILER_TIMEOUT_S. Where
no compiler is usable, where the build or its self-check fails, or with LSTM_COMPOSER_FUSED_STEP=0, the
composer uses PyTorch's operators: the same results up to float rounding. The source is compiled into a
private temporary folder (mode 0700; about 0.3 s) once per process, under a lock; the library is loaded only
after the compiler exited with 0 and left a regular file of ours, and the folder is then removed; nothing is
written elsewhere.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Callable, NamedTuple

from transformers.utils import logging

logger = logging.get_logger(__name__)

ENVIRONMENT_SWITCH = "LSTM_COMPOSER_FUSED_STEP"
COMPILER_SWITCH = "LSTM_COMPOSER_CC"  # opt-in: the absolute path of another C compiler
SYSTEM_COMPILERS = ("/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang")  # the first that exists, never a PATH search
COMPILER_TIMEOUT_S = 10.0  # a compiler still running then is killed (with all it started): ~0.3 s is usual

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


def _executable_file(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _compiler() -> str | None:
    """The absolute path of the C compiler to run, or None. Never a PATH search and never `$CC`: the first of
    SYSTEM_COMPILERS that exists, or the absolute path of an executable file named by LSTM_COMPOSER_CC (an
    explicit opt-in; any other value there is refused, with the reason logged, and then nothing is compiled)."""
    chosen = os.environ.get(COMPILER_SWITCH, "")
    if chosen:
        if not os.path.isabs(chosen):
            problem = "is not an absolute path"
        elif not os.path.isfile(chosen):
            problem = "is not an existing regular file"
        elif not os.access(chosen, os.X_OK):
            problem = "is not executable"
        else:
            return chosen
        logger.warning(f"{COMPILER_SWITCH}={chosen!r} is refused: it {problem} (it must be the absolute path of a C "
                       "compiler, run without a shell and without arguments of its own); the composer steps with "
                       "PyTorch's operators")
        return None
    return next((path for path in SYSTEM_COMPILERS if _executable_file(path)), None)


def fused_step_enabled() -> bool:
    """False when LSTM_COMPOSER_FUSED_STEP is 0 / false / no / off (to compare, or to rule the kernel out)."""
    return os.environ.get(ENVIRONMENT_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


_NOT_BUILT = object()
_build_lock = threading.Lock()
_build_result: CompiledStep | None | object = _NOT_BUILT


def compiled_lstm_step() -> CompiledStep | None:
    """The compiled functions, or None where they cannot be built (no compiler, no vector maths, another
    platform's toolchain, a compiler that fails or runs past COMPILER_TIMEOUT_S). Built at most once per process:
    concurrent first callers wait for the one build, and its result (success or failure) is kept."""
    global _build_result
    result = _build_result
    if result is _NOT_BUILT:
        with _build_lock:
            if _build_result is _NOT_BUILT:
                _build_result = _build()
            result = _build_result
    return result  # type: ignore[return-value]


def _forget_build_for_tests() -> None:
    """Forget the kept build result, so that the next call builds again (tests only; a loaded library stays)."""
    global _build_result
    with _build_lock:
        _build_result = _NOT_BUILT


def _check_private_folder(folder: str) -> None:
    status = os.lstat(folder)
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.geteuid() or status.st_mode & 0o077:
        raise OSError(f"the build folder {folder} is not a private folder of this user")


def _check_own_regular_file(path: Path) -> None:
    status = os.lstat(path)  # not following a link
    if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid():
        raise OSError(f"the compiler's output {path} is not a regular file owned by this user")


def _write_new_file(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def _compiler_environment(compiler: str, folder: str) -> dict[str, str]:
    """A fixed environment: the compiler finds its assembler and linker beside it or in the system's folders,
    never in the caller's PATH, and no GCC_EXEC_PREFIX, COMPILER_PATH, LD_PRELOAD, ... reaches it."""
    directories = dict.fromkeys([os.path.dirname(compiler), "/usr/bin", "/bin"])
    return {"PATH": os.pathsep.join(directories), "LC_ALL": "C", "TMPDIR": folder}


def _stop(process: subprocess.Popen) -> None:
    """Kill the compiler and everything it started (its own process group), then reap it."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)  # the group is still ours: its leader is not reaped yet
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _run_compiler(argv: list[str], folder: str, log_path: Path) -> None:
    """Run argv (no shell) in folder, its output to log_path; raise unless it exits with 0 within the timeout."""
    with open(log_path, "xb") as log:  # a file, not a pipe: nothing left running can hold our reads open
        process = subprocess.Popen(argv, shell=False, cwd=folder, env=_compiler_environment(argv[0], folder),
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   close_fds=True, start_new_session=True)
        try:
            returncode = process.wait(timeout=COMPILER_TIMEOUT_S)
        except BaseException:  # the timeout, or an interrupt: leave nothing running
            _stop(process)
            raise
    if returncode != 0:
        raise subprocess.CalledProcessError(returncode, argv, output=log_path.read_bytes()[-2000:])


def _build() -> CompiledStep | None:
    compiler = _compiler()
    if compiler is None:
        logger.info("No usable C compiler: the composer steps with PyTorch's operators")
        return None
    try:
        folder = tempfile.mkdtemp(prefix="lstm-composer-step-")  # mode 0700
        try:
            _check_private_folder(folder)
            source, library_path = Path(folder) / "step.c", Path(folder) / "step.so"
            _write_new_file(source, C_SOURCE)
            # No -ffast-math: gcc < 13 then links start-up code that flushes subnormal floats to zero in the
            # whole process. A loaded library stays mapped after its folder is removed.
            _run_compiler([compiler, "-O3", "-march=native", "-fno-math-errno", "-fPIC", "-std=c11", "-shared",
                           str(source), "-o", str(library_path), "-lm"], folder, Path(folder) / "compiler.log")
            _check_own_regular_file(library_path)
            library = ctypes.CDLL(str(library_path))
            advance, finish_layer = library.lstm_advance, library.lstm_finish_layer
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    except subprocess.TimeoutExpired:
        logger.warning(f"The C compiler {compiler} ran past {COMPILER_TIMEOUT_S:g} s and was stopped; the composer "
                       "steps with PyTorch's operators")
        return None
    except (OSError, subprocess.SubprocessError, AttributeError) as error:
        details = getattr(error, "output", b"") or b""
        logger.info(f"The compiled LSTM step is unavailable ({error} {details.decode(errors='replace')[-500:]}); "
                    "the composer steps with PyTorch's operators")
        return None
    advance.argtypes = [ctypes.POINTER(LstmStepArguments), ctypes.c_void_p]
    finish_layer.argtypes = [ctypes.POINTER(LstmStepArguments), ctypes.c_int64, ctypes.c_void_p]
    advance.restype = finish_layer.restype = ctypes.c_int
    return CompiledStep(advance, finish_layer)
