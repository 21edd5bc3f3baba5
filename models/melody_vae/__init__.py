from .configuration_melody_vae import MelodyVaeConfig
from .melody_codec import FIRST_PITCH_TOKEN, HOLD, REST, GridNote, MelodyCodec, melody_line, pitch_name
from .modeling_melody_vae import (
    INTERPOLATIONS, MelodyVaeModel, MelodyVaeOutput, MelodyVaePreTrainedModel, gaussian_kl, interpolate_latents,
)

__all__ = ["MelodyVaeConfig", "MelodyVaeModel", "MelodyVaeOutput", "MelodyVaePreTrainedModel", "MelodyCodec",
           "GridNote", "melody_line", "pitch_name", "gaussian_kl", "interpolate_latents", "INTERPOLATIONS", "REST",
           "HOLD", "FIRST_PITCH_TOKEN"]
