"""The registry of pruning methods, open_lth style: a method module registers its class (`@register`), which
carries its name, help line, defaults and checks; nothing else in the package lists the methods."""

from __future__ import annotations

import importlib

from edgeprune.errors import EdgepruneError

# The built-in methods' modules, imported on first use; a user's method registers itself when its own
# module is imported (see tests/methods/test_method_one_file.py).
BUILTIN = ("edgeprune.methods.cplr", "edgeprune.methods.cp", "edgeprune.methods.lth", "edgeprune.methods.lthif")

_METHODS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: add a Method subclass under its `name` (checked, never twice)."""
    from edgeprune.methods.config import SlimConfig

    name = getattr(cls, "name", "")
    if not name or not isinstance(name, str):
        raise EdgepruneError(f"method class {cls.__name__} needs a name")
    if name in _METHODS and _METHODS[name] is not cls:
        raise EdgepruneError(f"method {name!r} is registered twice ({_METHODS[name].__name__}, {cls.__name__})")
    if not getattr(cls, "help", ""):
        raise EdgepruneError(f"method {name!r} needs a one-line help text")
    SlimConfig.check_method_defaults(name, dict(cls.defaults))
    _METHODS[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a method (tests that register a toy method clean up with it)."""
    _METHODS.pop(name, None)


def _load_builtin() -> None:
    for module in BUILTIN:
        importlib.import_module(module)


def methods() -> dict[str, type]:
    """{name: Method class} of every registered method, the built-in ones first."""
    _load_builtin()
    return dict(_METHODS)


def names() -> tuple[str, ...]:
    return tuple(methods())


def get(name: str) -> type:
    """The Method class of `name`; one line naming the choices for an unknown name."""
    found = methods().get(name)
    if found is None:
        raise EdgepruneError(f"--method must be one of {', '.join(names())}, got {name!r}")
    return found
