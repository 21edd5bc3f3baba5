"""The hub's plugins: the contract (`base`), the registry, the shared training
engine and one package per lecture topic."""

from .base import DataSplits, Plugin, Preset, SpaceCard, TrainingParts, TrainingRecipe
from .errors import UnusableInputError
from .registry import get_plugin, load_plugins, plugin_names, register_plugin, unavailable_plugins

__all__ = [
    "DataSplits", "Plugin", "Preset", "SpaceCard", "TrainingParts", "TrainingRecipe", "UnusableInputError",
    "get_plugin", "load_plugins", "plugin_names", "register_plugin", "unavailable_plugins",
]
