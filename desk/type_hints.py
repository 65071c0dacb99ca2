"""Type hints the Temporal SDK works out again and again, worked out once per process.

The SDK resolves type hints (`typing.get_type_hints`, `inspect.signature`) in two places that repeat:
- for every workflow instance: the sandbox runs `workflows/incident.py` afresh (the determinism guard), so each
  `@workflow.update`, `signal` and `query` decorator resolves its handler's hints again, and `@workflow.defn`
  compares each of the 17 updates' parameters with its validator's, parameter by parameter;
- for every payload decoded into a dataclass (an incident's input, every activity result, every command): the
  dataclass's field hints, and those of each dataclass nested in it.
Together about a sixth of the worker's CPU for a new incident (docs/performance.md, issue 17, fifth round).

The answers depend on the function's code and annotations, or on the class, and on the classes the hints name.
The workflow modules' code objects are shared per process (`worker._SharedCodeLoader`), so the key is the code.
An answer is kept only when every class it names is the host process's own, shared with every sandbox (passed
through: the desk's domain types, the standard library's): a class defined in a sandboxed module is a new class
for every instance, so an answer naming one is worked out afresh every time, as without this module.

`install()` puts the memoised functions in the SDK's place, once per process; the SDK's own functions answer
whatever is not kept, and everything if the SDK has moved them (a warning says so)."""

from __future__ import annotations

import logging
import sys
import types
import typing
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger("desk.type_hints")

# The host's modules. Inside the sandbox `sys.modules` is the sandbox's own map, where a sandboxed module's class
# looks like a module's attribute too; this is the map it was before any sandbox ran (worker start).
_HOST_MODULES: dict[str, types.ModuleType] | None = sys.modules if type(sys.modules) is dict else None

_func_hints: dict[tuple, tuple[tuple[Any, ...] | None, Any]] = {}
_same_params: dict[tuple, bool] = {}
_class_hints: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()
_installed: dict[str, Callable[..., Any]] = {}  # the SDK's own functions, by what they were replaced for


def shared_class(cls: type) -> bool:
    """True for a class the host process holds under its module and name: one object for every sandbox."""
    if _HOST_MODULES is None:
        return False
    found: Any = _HOST_MODULES.get(getattr(cls, "__module__", None) or "")
    for part in getattr(cls, "__qualname__", "<>").split("."):
        found = getattr(found, part, None)
    return found is cls


def shared_hint(hint: Any) -> bool:
    """True when every class the hint names is `shared_class` (`X`, `X | None`, `list[X]`, `Literal["a"]`...)."""
    if hint is None or hint is type(None) or hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return all(isinstance(a, (str, int, bool, bytes)) for a in typing.get_args(hint))
    if origin is not None:
        known = origin in (typing.Union, types.UnionType) or (isinstance(origin, type) and shared_class(origin))
        return known and all(a is Ellipsis or shared_hint(a) for a in typing.get_args(hint))
    return isinstance(hint, type) and shared_class(hint)


def _plain_function(fn: Any) -> bool:
    """A `def` as written: no wrapper, no signature set by hand (those are looked up past the code object)."""
    return (type(fn) is types.FunctionType and not hasattr(fn, "__wrapped__")
            and not hasattr(fn, "__signature__"))


def _function_key(fn: Any) -> tuple | None:
    """What a plain function's signature is made of: its code, annotations and defaults; None if not hashable."""
    key = (fn.__code__, tuple(fn.__annotations__.items()), fn.__defaults__,
           tuple(sorted(fn.__kwdefaults__.items())) if fn.__kwdefaults__ else None)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _type_hints_from_func(func: Callable) -> tuple[list[type] | None, type | None]:
    """`temporalio.common._type_hints_from_func`, kept per code and annotations when its answer is shared."""
    original = _installed["type_hints_from_func"]
    key = _function_key(func) if _plain_function(func) else None
    if key is None:
        return original(func)
    found = _func_hints.get(key)
    if found is None:
        args, ret = original(func)
        if (args is None or all(shared_hint(a) for a in args)) and shared_hint(ret):
            _func_hints[key] = (tuple(args) if args is not None else None, ret)
        return args, ret
    args, ret = found
    return (list(args) if args is not None else None), ret  # the caller's own list, as the SDK gives


def _parameters_identical_up_to_naming(fn1: Callable, fn2: Callable) -> bool:
    """`temporalio.workflow._definition._parameters_identical_up_to_naming`: it compares the signatures' kinds,
    defaults and annotations as written, so the functions' code, annotations and defaults decide it."""
    original = _installed["parameters_identical_up_to_naming"]
    if not (_plain_function(fn1) and _plain_function(fn2)):
        return original(fn1, fn2)
    k1, k2 = _function_key(fn1), _function_key(fn2)
    if k1 is None or k2 is None:
        return original(fn1, fn2)
    key = (k1, k2)
    if key not in _same_params:
        _same_params[key] = original(fn1, fn2)
    return _same_params[key]


def _get_type_hints(obj: Any, globalns: Any = None, localns: Any = None, include_extras: bool = False) -> Any:
    """`typing.get_type_hints` as the SDK's payload converter calls it (a dataclass, a TypedDict): kept per
    class when the class and every hint are shared. The caller gets its own dict."""
    if globalns is not None or localns is not None or include_extras or not isinstance(obj, type):
        return typing.get_type_hints(obj, globalns, localns, include_extras)
    found = _class_hints.get(obj)
    if found is None:
        hints = typing.get_type_hints(obj)
        if shared_class(obj) and all(shared_hint(h) for h in hints.values()):
            _class_hints[obj] = hints
        return dict(hints)
    return dict(found)


def install() -> bool:
    """Put the memoised functions in the SDK's place (once per process). False, with a warning, if this SDK has
    moved what they replace: it then works them out every time, as before."""
    if _installed:
        return True
    if _HOST_MODULES is None:
        log.warning("type hints not memoised: installed from inside a workflow sandbox")
        return False
    import temporalio.common
    import temporalio.converter._payload_converter as payload_converter
    import temporalio.workflow._definition as definition

    targets = {"type_hints_from_func": (temporalio.common, "_type_hints_from_func", _type_hints_from_func),
               "parameters_identical_up_to_naming": (definition, "_parameters_identical_up_to_naming",
                                                     _parameters_identical_up_to_naming),
               "get_type_hints": (payload_converter, "get_type_hints", _get_type_hints)}
    missing = [f"{module.__name__}.{name}" for module, name, _ in targets.values() if not callable(getattr(module, name, None))]
    if missing:
        log.warning("type hints not memoised: this temporalio has no %s", ", ".join(missing))
        return False
    for what, (module, name, memoised) in targets.items():
        _installed[what] = getattr(module, name)
        setattr(module, name, memoised)
    return True


def uninstall() -> None:
    """Give the SDK its own functions back (tests compare the two)."""
    import temporalio.common
    import temporalio.converter._payload_converter as payload_converter
    import temporalio.workflow._definition as definition

    places = {"type_hints_from_func": (temporalio.common, "_type_hints_from_func"),
              "parameters_identical_up_to_naming": (definition, "_parameters_identical_up_to_naming"),
              "get_type_hints": (payload_converter, "get_type_hints")}
    for what, original in list(_installed.items()):
        module, name = places[what]
        setattr(module, name, original)
        del _installed[what]
    _func_hints.clear()
    _same_params.clear()
    _class_hints.clear()
