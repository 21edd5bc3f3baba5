"""Named recipes for the LSTM composer: the lecture's two networks and our own.

The lecture (1304-example-04/05) trained Keras models with the
categorical cross-entropy on 128-chord windows, predicting only the chord after
each window, with batch size 64 and Keras' default Adam. Here every preset
predicts every position of each window (teacher forcing), so one pass over the
data gives 128 times the training signal; the architectures are the lecture's.
"""

from ..base import Preset, TrainingRecipe

PRESETS = {
    "lecture-04": Preset(
        description="1304-example-04: lecture chord codec (all notes), Embedding 128, 3 x LSTM 128 with "
                    "Dropout 0.3, Dense over the chords; 128-token windows, Adam 1e-3, batch 64",
        model=dict(codec="lecture", maxnotes=0, embedding_size=128, hidden_size=128, num_layers=3, dropout=0.3,
                   window=128, program=46, tempo_bpm=120.0),
        training=TrainingRecipe(epochs=20, batch_size=64, learning_rate=1e-3, optimizer="adam", max_grad_norm=1.0,
                                eval_batch_size=256, checkpoint_every=500, log_every=20),
        reference="trained on one song (FF7 prelude, 104 chords) it reached loss 0.27 after 200 epochs and, "
                  "decoded greedily, repeated the song",
    ),
    "lecture-05": Preset(
        description="1304-example-05: lecture chord codec keeping the highest 2 notes, Embedding 128, 3 x LSTM 256 "
                    "with Dropout 0.3; 128-token windows, Adam 1e-3, batch 64; generate with the adaptive temperature",
        model=dict(codec="lecture", maxnotes=2, embedding_size=128, hidden_size=256, num_layers=3, dropout=0.3,
                   window=128, program=46, tempo_bpm=160.0),
        training=TrainingRecipe(epochs=20, batch_size=64, learning_rate=1e-3, optimizer="adam", max_grad_norm=1.0,
                                eval_batch_size=256, checkpoint_every=500, log_every=20),
        reference="Mozart violin concertos 3-5 (9 movements), 150 epochs: 48 hours on 12 CPUs",
    ),
    "best": Preset(
        description="ours: performance codec (notes, durations and time shifts on a 12-per-beat grid, rhythm kept), "
                    "Embedding 128, 3 x LSTM 256, dropout 0.2, 256-token windows, random transposition (-5..+6 "
                    "semitones), AdamW with a one-cycle schedule, gradient clipping at 1",
        model=dict(codec="performance", steps_per_beat=12, max_shift_steps=48, max_duration_steps=96,
                   embedding_size=128, hidden_size=256, num_layers=3, dropout=0.2, window=256,
                   program=0, tempo_bpm=100.0),
        training=TrainingRecipe(epochs=8, batch_size=16, learning_rate=3e-3, optimizer="adamw",
                                optimizer_options={"weight_decay": 0.01}, schedule="onecycle",
                                schedule_options={"pct_start": 0.15}, max_grad_norm=1.0, eval_batch_size=128,
                                checkpoint_every=200, log_every=20, options={"transpose": [-5, 6]}),
    ),
}
