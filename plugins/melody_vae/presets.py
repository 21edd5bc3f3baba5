"""Named recipes for the melody autoencoders: the slides' two steps and our own, at one size and one length.

All three share the network's sizes and the training (Adam, 8,000 steps of 64 melodies), so the table
compares codes and losses, nothing else:

- `autoencoder` and `vae` differ only in the code: a deterministic one, or a Gaussian one with the KL term
  (beta 1), ramped up from 0 over the first 3,000 steps (Bowman et al.'s KL annealing, so that the decoder
  learns to read z before the KL term pulls the posterior onto the prior).
- `best` adds the remedies against posterior collapse that MusicVAE and Bowman et al. use: a lighter KL
  weight (beta 0.2), free bits (the first 32 bits of KL per melody cost nothing, so the encoder keeps
  using the code), word dropout (30 % of the decoder's previous tokens hidden, so it has to read z) and a
  64-number code. Without them the plain `vae` collapses: its code carries a few nats and its decoder
  writes the corpus' average melody.

Every preset trains on one thread of the team's 2-core CPU machines in under an hour (the measured times
are in each folder's results.json and in docs/melody-vae.md).
"""

from dataclasses import replace

from ..base import Preset, TrainingRecipe

SMALL = dict(embedding_size=32, encoder_hidden_size=128, bidirectional_encoder=True, latent_size=32,
             decoder_hidden_size=256, decoder_layers=1, dropout=0.0)
SMALL_TRAINING = TrainingRecipe(epochs=100, max_steps=8000, batch_size=64, learning_rate=1e-3, optimizer="adam",
                                schedule="cosine", schedule_options={"warmup_fraction": 0.02}, max_grad_norm=1.0,
                                eval_batch_size=512, checkpoint_every=1000, log_every=50)

PRESETS = {
    "autoencoder": Preset(
        description="the slides' autoencoder: the melody's tokens -> bidirectional LSTM 128 -> a 32-number code -> "
                    "LSTM 256 decoder (0.53 M parameters); reconstruction loss only; Adam 1e-3, cosine schedule, "
                    "batch 64, 8,000 steps",
        model=dict(**SMALL, variational=False),
        training=SMALL_TRAINING,
    ),
    "vae": Preset(
        description="the slides' variational autoencoder: as autoencoder, with a Gaussian code and the KL term "
                    "(beta 1), annealed from 0 over the first 3,000 steps",
        model=dict(**SMALL, variational=True, beta=1.0, free_bits=0.0),
        training=replace(SMALL_TRAINING, options={"kl_annealing_steps": 3000}),
    ),
    "best": Preset(
        description="ours: the vae network with MusicVAE's remedies against posterior collapse (beta 0.2, 32 free "
                    "bits per melody), Bowman's word dropout (0.3) and a 64-number code (0.61 M parameters)",
        model=dict(**{**SMALL, "latent_size": 64}, variational=True, beta=0.2, free_bits=32.0, word_dropout=0.3),
        training=replace(SMALL_TRAINING, options={"kl_annealing_steps": 3000}),
    ),
}
