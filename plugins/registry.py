"""Which plugins the hub knows: a decorator, an explicit list, and entry points.

- Plugins of this repository register with `@register_plugin` in their own
  folder, `plugins/<topic>/`: every package folder of `plugins/` is imported
  (`builtin_plugin_modules`), so a new topic is one folder and no list to edit.
  A built-in that fails to import fails loudly (it is our bug). Tabs follow
  each plugin's `order` (the lecture's order), then its name.
- Plugins of other installed packages declare an entry point in the group
  `dsl_hub.plugins` (the value names the module, or module:class, to import).
- Modules named in the environment variable `DSL_HUB_PLUGINS`
  (comma-separated) are imported too, for a plugin that is not packaged yet.

A third-party plugin that fails to import is recorded as unavailable with its
error, and the hub shows it so, instead of going down with it.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import traceback
from importlib.metadata import entry_points
from pathlib import Path

from .base import Plugin

ENTRY_POINT_GROUP = "dsl_hub.plugins"
EXTRA_MODULES_VARIABLE = "DSL_HUB_PLUGINS"

_plugins: dict[str, type[Plugin]] = {}
_unavailable: dict[str, str] = {}  # what failed to import -> why
_loaded = False


class UnknownPluginError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register_plugin(cls: type[Plugin]) -> type[Plugin]:
    """Class decorator: make a `Plugin` subclass available under its `name`."""
    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        raise TypeError(f"@register_plugin expects a Plugin subclass, got {cls!r}")
    existing = _plugins.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(
            f"two plugins are named {cls.name!r}: {existing.__module__}.{existing.__qualname__} "
            f"and {cls.__module__}.{cls.__qualname__}"
        )
    _plugins[cls.name] = cls
    return cls


def _import_third_party(label: str, target: str) -> None:
    try:
        module_name, _, attribute = target.partition(":")
        module = importlib.import_module(module_name.strip())
        if attribute:
            register_plugin(getattr(module, attribute.strip()))
    except Exception as error:  # noqa: BLE001 - any failure of foreign code makes it unavailable, not fatal
        _unavailable[label] = "".join(traceback.format_exception_only(error)).strip()


def builtin_plugin_modules() -> list[str]:
    """The package folders of `plugins/` (`plugins.mnist_cnn`, ...); the ones that register a class are plugins,
    the others (`plugins.glyphs`) are shared helpers that register nothing."""
    folder = Path(__file__).resolve().parent
    return [f"{__package__}.{module.name}" for module in pkgutil.iter_modules([str(folder)])
            if module.ispkg and not module.name.startswith("_")]


def load_plugins(reload: bool = False) -> None:
    """Import built-in and third-party plugins once (again with `reload=True`)."""
    global _loaded
    if _loaded and not reload:
        return
    _unavailable.clear()
    for module in builtin_plugin_modules():
        importlib.import_module(module)
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        _import_third_party(f"{entry_point.name} (entry point {entry_point.value})", entry_point.value)
    for module in filter(None, (name.strip() for name in os.environ.get(EXTRA_MODULES_VARIABLE, "").split(","))):
        _import_third_party(f"{module} (from ${EXTRA_MODULES_VARIABLE})", module)
    _loaded = True


def plugin_names() -> list[str]:
    """Plugins in the hub's tab order: by `order` (the lecture's order for the built-ins), then by name."""
    load_plugins()
    return sorted(_plugins, key=lambda name: (_plugins[name].order, name))


def unavailable_plugins() -> dict[str, str]:
    """Third-party plugins that could not be imported, with the reason."""
    load_plugins()
    return dict(_unavailable)


def get_plugin(name: str) -> Plugin:
    """An instance of the plugin called `name`; an unknown name lists the valid ones."""
    load_plugins()
    if name not in _plugins:
        known = ", ".join(sorted(_plugins)) or "none"
        raise UnknownPluginError(f"unknown plugin {name!r}; available plugins: {known}")
    return _plugins[name]()
