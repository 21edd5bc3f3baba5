"""Named recipes for the ABC composer: the MIT 6.S191 lab, the lecture notes' four sequence models at one size, ours.

`lab` is the lab's Part 2 (Music Generation) as published: the lab's own
`irish.abc`, Embedding(256) -> LSTM(1024) -> Dense(vocab), sequences of 100
characters, batch size 4, Adam with learning rate 5e-3, 2,000 iterations, no
dropout. (The lab draws random windows from the joined songs; here an epoch
goes once through the tunes cut into windows, in a shuffled order.)

`rnn`, `gru`, `lstm` and `transformer` have the same number of parameters
(0.85-0.89 M, within 5 %), the same data (all the ABC books), the same windows,
batches, optimizer and number of steps (800 of 16 x 128 characters): the comparison asks only which
sequence model is better at this size and budget.

`best` reads every book, and the lab's `irish.abc` five times in each pass:
the lab's tunes are 5.5 % of the books' characters (the Essen folk songs, in
a plainer notation, are 57 %), and the lab's figure
is measured on its own held-out tunes, so its style is weighted as the target
domain (about a quarter of what `best` reads) while the other books still
teach ABC at large. Trained on the plain mixture, the same model was 0.09
bits per character behind the lab on the lab's tunes at step 1,600 of 2,400
(1.92 against 1.83).
"""

from ..base import Preset, TrainingRecipe
from .data import LAB_FOLDER

ALL_BOOKS = None  # every folder under --data-dir
COMPARISON = TrainingRecipe(epochs=1, max_steps=800, batch_size=16, learning_rate=3e-3, optimizer="adamw",
                            optimizer_options={"weight_decay": 0.01}, schedule="cosine",
                            schedule_options={"warmup_fraction": 0.03}, max_grad_norm=1.0, eval_batch_size=256,
                            checkpoint_every=200, log_every=20, options={"folders": ALL_BOOKS})
SEQUENCE = dict(window=128, dropout=0.1, num_layers=2)

PRESETS = {
    "lab": Preset(
        description="the MIT 6.S191 lab: irish.abc only, Embedding 256, LSTM 1024, Dense; 100-character sequences, "
                    "batch 4, Adam 5e-3, 2,000 iterations",
        model=dict(cell="lstm", embedding_size=256, hidden_size=1024, num_layers=1, dropout=0.0, window=100),
        training=TrainingRecipe(epochs=100, max_steps=2000, batch_size=4, learning_rate=5e-3, optimizer="adam",
                                eval_batch_size=256, checkpoint_every=500, log_every=50,
                                options={"folders": ["mit-6s191-irish"]}),
        reference="MIT Introduction to Deep Learning, Lab 1 Part 2: a character LSTM on its irish.abc (804 tunes); the lab "
                  "prints the training loss and plays generated songs, it reports no validation figure",
    ),
    "rnn": Preset(
        description="simple tanh RNN, 2 x 512 units, Embedding 64 (0.87 M parameters), all ABC books, "
                    "128-character windows, batch 16, AdamW 3e-3 cosine, 800 steps (1.6 M characters)",
        model=dict(cell="rnn", embedding_size=64, hidden_size=512, **SEQUENCE),
        training=COMPARISON,
    ),
    "gru": Preset(
        description="GRU, 2 x 296 units, Embedding 64 (0.88 M parameters), as rnn",
        model=dict(cell="gru", embedding_size=64, hidden_size=296, **SEQUENCE),
        training=COMPARISON,
    ),
    "lstm": Preset(
        description="LSTM, 2 x 256 units, Embedding 64 (0.88 M parameters), as rnn",
        model=dict(cell="lstm", embedding_size=64, hidden_size=256, **SEQUENCE),
        training=COMPARISON,
    ),
    "transformer": Preset(
        description="causal self-attention: 4 pre-norm blocks of width 128, 4 heads, learned positions "
                    "(0.85 M parameters), as rnn",
        model=dict(cell="transformer", hidden_size=128, num_heads=4, max_position_embeddings=256,
                   **{**SEQUENCE, "num_layers": 4}),
        training=COMPARISON,
    ),
    "best": Preset(
        description="ours: LSTM 2 x 384, Embedding 128, dropout 0.1 (2.0 M parameters), all ABC books, "
                    "256-character windows, the lab's tunes 5 times in each pass, batch 16, AdamW 3e-3 with a one-cycle "
                    "schedule, clipping at 1, 2,400 steps (9.8 M characters, 2.8 passes over the books)",
        model=dict(cell="lstm", embedding_size=128, hidden_size=384, num_layers=2, dropout=0.1, window=256),
        training=TrainingRecipe(epochs=4, max_steps=2400, batch_size=16, learning_rate=3e-3, optimizer="adamw",
                                optimizer_options={"weight_decay": 0.01}, schedule="onecycle",
                                schedule_options={"pct_start": 0.1}, max_grad_norm=1.0, eval_batch_size=128,
                                checkpoint_every=400, log_every=20,
                                options={"folders": ALL_BOOKS, "repeat_books": {LAB_FOLDER: 5}}),
    ),
}
