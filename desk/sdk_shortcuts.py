"""What the Temporal SDK does again and again for nothing new: worked out once per process, or skipped.

The SDK inspects the workflow's class and resolves type hints (`typing.get_type_hints`, `inspect.signature`) in
places that repeat:
- for every workflow instance: the sandbox runs `workflows/incident.py` afresh (the determinism guard), so each
  `@workflow.update`, `signal` and `query` decorator resolves its handler's hints again, and `@workflow.defn`
  compares each of the 17 updates' parameters with its validator's, parameter by parameter, and asks of each of
  the class's ~100 members whether it is an update method, a check that costs a runtime `Protocol`'s
  attribute-by-attribute static lookup;
- for every payload decoded into a dataclass (an incident's input, every activity result, every command): the
  dataclass's field hints, and those of each dataclass nested in it;
- for every dataclass encoded (every command, activity argument and result): `dataclasses.asdict`, which deep-copies
  every value (a datetime through `copy`'s reduce protocol) before the JSON encoder writes it;
- for every workflow activation and completion: three walks over every payload in it, for a payload codec and an
  external payload store. The desk configures neither, so each walk hands every payload back unchanged.
Together about a quarter of the worker's CPU for a new incident (docs/performance.md, issue 17, fifth round).

The answers depend on the function's code and annotations, or on the class, and on the classes the hints name.
The workflow modules' code objects are shared per process (`worker._SharedCodeLoader`), so the key is the code.
An answer is kept only when every class it names is the host process's own, shared with every sandbox (passed
through: the desk's domain types, the standard library's): a class defined in a sandboxed module is a new class
for every instance, so an answer naming one is worked out afresh every time, as without this module.

The payload walks are skipped only where the data converter has no codec and no external store (the SDK's own
walk would hand every payload back unchanged); with either configured, the SDK's walks run as before.

`install()` puts the shortcuts in the SDK's place, once per process; the SDK's own functions answer whatever is
not kept, and everything if the SDK has moved them (a warning says so). temporalio is pinned in the lock file:
tests/unit/test_sdk_shortcuts.py compares every shortcut's answers with the SDK's own on an upgrade."""

from __future__ import annotations

import dataclasses
import logging
import sys
import types
import typing
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger("desk.sdk_shortcuts")

# The host's modules. Inside the sandbox `sys.modules` is the sandbox's own map, where a sandboxed module's class
# looks like a module's attribute too; this is the map it was before any sandbox ran (worker start).
_HOST_MODULES: dict[str, types.ModuleType] | None = sys.modules if type(sys.modules) is dict else None

_func_hints: dict[tuple, tuple[tuple[Any, ...] | None, Any]] = {}
_same_params: dict[tuple, bool] = {}
_class_hints: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()
_installed: dict[str, Any] = {}  # the SDK's own functions, by what they were replaced for


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


_kept_code: dict[int, types.CodeType] = {}  # every code object a key names, kept alive so its id stays its own


def _function_key(fn: Any) -> tuple | None:
    """What a plain function's signature is made of: its code, annotations and defaults; None if not hashable.
    The code by identity: hashing a code object hashes its whole bytecode and constants."""
    code = fn.__code__
    key = (id(code), tuple(fn.__annotations__.items()), fn.__defaults__,
           tuple(sorted(fn.__kwdefaults__.items())) if fn.__kwdefaults__ else None)
    try:
        hash(key)
    except TypeError:
        return None
    _kept_code.setdefault(id(code), code)
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


class _UpdateMethodCheck(type):
    def __instancecheck__(cls, member: Any) -> bool:
        kind = type(member)
        if kind is types.FunctionType:
            # What the runtime Protocol looks up statically, for a function: `_defn` and a `validator` that is not
            # None in its own attributes (`@workflow.update` sets both there; `function` has neither), `__call__`.
            own = member.__dict__
            return "_defn" in own and own.get("validator") is not None
        if kind.__module__ == "builtins" and "__dict__" not in kind.__dict__:
            return False  # no attributes of its own, and a builtin type has no `_defn`
        return isinstance(member, _installed["update_method"])


class _UpdateMethod(metaclass=_UpdateMethodCheck):
    """Stands in for `UpdateMethodMultiParam` in `@workflow.defn`'s class inspection: answers for a function (the
    class's methods, its 17 update methods among them) and a builtin member from their own attributes, and asks
    the SDK's runtime `Protocol` about anything else. The `Protocol` looks up each of its members with
    `inspect.getattr_static`, for every one of the class's members, for every instance."""


def _json_default(encoder: Any, o: Any) -> Any:
    """`AdvancedJSONEncoder.default`, a dataclass given as its fields one level deep: the encoder comes back here for
    each dataclass inside it and writes the same JSON as from the SDK's deep copy (`dataclasses.asdict`)."""
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
    return _installed["json_default"](encoder, o)


def _transforms_payloads(data_converter: Any) -> bool:
    return data_converter.payload_codec is not None or getattr(data_converter, "external_storage", None) is not None


async def _decode_activation(activation: Any, data_converter: Any, *args: Any, **kwargs: Any) -> Any:
    """`temporalio.bridge.worker.decode_activation`, skipped where nothing would decode: no codec, no store."""
    if _transforms_payloads(data_converter):
        return await _installed["decode_activation"](activation, data_converter, *args, **kwargs)
    return _installed["storage_metrics"]()


async def _encode_completion(completion: Any, data_converter: Any, *args: Any, **kwargs: Any) -> Any:
    """`temporalio.bridge.worker.encode_completion`, skipped where nothing would encode: no codec, no store."""
    if _transforms_payloads(data_converter):
        return await _installed["encode_completion"](completion, data_converter, *args, **kwargs)
    return _installed["storage_metrics"]()


def _places() -> dict[str, tuple[Any, str, Any]]:
    """For each shortcut: where the SDK keeps what it stands in for, and the shortcut."""
    import temporalio.bridge.worker as bridge_worker
    import temporalio.common
    import temporalio.converter._payload_converter as payload_converter
    import temporalio.workflow._definition as definition

    return {"type_hints_from_func": (temporalio.common, "_type_hints_from_func", _type_hints_from_func),
            "update_method": (definition, "UpdateMethodMultiParam", _UpdateMethod),
            "parameters_identical_up_to_naming": (definition, "_parameters_identical_up_to_naming",
                                                  _parameters_identical_up_to_naming),
            "get_type_hints": (payload_converter, "get_type_hints", _get_type_hints),
            "json_default": (payload_converter.AdvancedJSONEncoder, "default", _json_default),
            "decode_activation": (bridge_worker, "decode_activation", _decode_activation),
            "encode_completion": (bridge_worker, "encode_completion", _encode_completion)}


def install() -> bool:
    """Put the shortcuts in the SDK's place (once per process). False, with a warning, if this SDK has moved what
    they stand in for: it then does all of it every time, as before."""
    if _installed:
        return True
    if _HOST_MODULES is None:
        log.warning("SDK shortcuts not installed: installed from inside a workflow sandbox")
        return False
    import temporalio.converter._extstore as extstore

    places = _places()
    missing = [f"{place.__name__}.{name}" for place, name, _ in places.values()
               if not callable(getattr(place, name, None))]
    if not callable(getattr(extstore, "StorageOperationMetrics", None)):
        missing.append("temporalio.converter._extstore.StorageOperationMetrics")
    if missing:
        log.warning("SDK shortcuts not installed: this temporalio has no %s", ", ".join(missing))
        return False
    _installed["storage_metrics"] = extstore.StorageOperationMetrics
    for what, (place, name, shortcut) in places.items():
        _installed[what] = getattr(place, name)
        setattr(place, name, shortcut)
    return True


def uninstall() -> None:
    """Give the SDK its own functions back (tests compare the two)."""
    places = _places()
    for what, original in list(_installed.items()):
        if what in places:
            place, name, _ = places[what]
            setattr(place, name, original)
        del _installed[what]
    _func_hints.clear()
    _same_params.clear()
    _class_hints.clear()
    _kept_code.clear()
