"""The GAN family: `GanConfig`, `GanGenerator` (published) and `GanDiscriminator` (training only).

Registered with transformers' Auto classes, so `AutoModel.from_pretrained` on a
saved generator folder gives a `GanGenerator` inside this repository too (on
the Hub the folder's `auto_map` does the same with `trust_remote_code=True`).
"""

from transformers import AutoConfig, AutoModel

from .configuration_gan import GanConfig
from .modeling_gan import GanDiscriminator, GanGenerator, GanPreTrainedModel

AutoConfig.register(GanConfig.model_type, GanConfig, exist_ok=True)
AutoModel.register(GanConfig, GanGenerator, exist_ok=True)

__all__ = ["GanConfig", "GanDiscriminator", "GanGenerator", "GanPreTrainedModel"]
