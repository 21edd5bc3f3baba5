"""Named recipes for the melody autoencoders: the slides' two steps, at one size, and our own.

`autoencoder` and `vae` differ only in the code: a deterministic one, or a
Gaussian one with the KL term (ramped up from 0 over the first half of
training, Bowman et al.'s KL annealing, so that the decoder learns to read z
before the KL term pushes the posterior onto the prior). So whatever differs
between their latent spaces comes from the KL term alone.

`best` is MusicVAE's recipe at this corpus' scale: a larger encoder and
decoder, a lighter KL weight (MusicVAE's 2-bar melody model uses beta 0.5)
with free bits (the first nats of KL per melody cost nothing, so the encoder
keeps using the code) and longer training.

Every preset trains on the 2-core CPU of the team's machines in under an hour
with one thread (the measured times are in each folder's results.json).
"""

from dataclasses import replace

from ..base import Preset, TrainingRecipe

SMALL = dict(embedding_size=32, encoder_hidden_size=128, bidirectional_encoder=True, latent_size=32,
             decoder_hidden_size=256, decoder_layers=1, dropout=0.0)
SMALL_TRAINING = TrainingRecipe(epochs=100, max_steps=4000, batch_size=64, learning_rate=1e-3, optimizer="adam",
                                schedule="cosine", schedule_options={"warmup_fraction": 0.02}, max_grad_norm=1.0,
                                eval_batch_size=512, checkpoint_every=1000, log_every=50)

PRESETS = {
    "autoencoder": Preset(
        description="the slides' autoencoder: the melody's tokens -> bidirectional LSTM 128 -> a 32-number code -> "
                    "LSTM 256 decoder (0.54 M parameters); reconstruction loss only; Adam 1e-3, cosine schedule, "
                    "batch 64, 4,000 steps",
        model=dict(**SMALL, variational=False),
        training=SMALL_TRAINING,
    ),
    "vae": Preset(
        description="the slides' variational autoencoder: as autoencoder, with a Gaussian code and the KL term "
                    "(beta 1), annealed from 0 over the first 2,000 steps",
        model=dict(**SMALL, variational=True, beta=1.0, free_bits=0.0),
        training=replace(SMALL_TRAINING, options={"kl_annealing_steps": 2000}),
    ),
    "best": Preset(
        description="ours: as vae with MusicVAE's remedies against posterior collapse (beta 0.2, 32 free bits per "
                    "melody) and Bowman's word dropout (0.3), a 64-number code, and twice the training: 8,000 steps, "
                    "KL annealed over the first 3,000",
        model=dict(**{**SMALL, "latent_size": 64}, variational=True, beta=0.2, free_bits=32.0, word_dropout=0.3),
        training=replace(SMALL_TRAINING, max_steps=8000, options={"kl_annealing_steps": 3000}),
    ),
}
