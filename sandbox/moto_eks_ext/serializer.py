"""moto's response serializer, the same output for less work: the attribute picker's names
remembered per member, shape and class, and nested JSON structures written in one recursion by
the rules of moto 5.2's JSON serializer. Installed by speedups.install()."""

from enum import Enum
from typing import Any

from moto.core import serialize

_ABSENT = object()


def memo_possible_keys(patch: Any) -> None:
    """The serializer's attribute picker tries, for each member of each shape it writes, the
    names an attribute may have (aliases from the model, the class name, snake_case): a third
    of a DescribeCluster. They are a function of the member's key, its shape and the shape's
    parent (model data, fixed), the object's class name, and the object's explicit alias
    (`Meta.serialization_aliases`, looked up each time); the memo is keyed on all five. And
    with no response transformers (the key path is only read to find one) the picker's value
    is the first key the object has, which get_value finds without building the key path."""
    picker_class = serialize.XFormedAttributePicker
    original_keys = picker_class.get_possible_keys
    original_get_value = serialize.ResponseSerializer.get_value
    picker_call = picker_class.__call__
    defaults = serialize.DEFAULT_ALIAS_PROVIDERS
    if defaults[0] is not serialize.ExplicitAlias:
        return  # not the providers this memo knows
    memo: dict[tuple[Any, ...], tuple[Any, Any, tuple[str, ...]]] = {}

    def memo_key(obj: Any, key: str, shape: Any, parent: Any) -> tuple[Any, ...]:
        explicit = None
        if type(obj) is not dict:  # a dict has no attributes of its own, Meta or other
            meta = getattr(obj, "Meta", _ABSENT)
            if meta is not _ABSENT:
                aliases = getattr(meta, "serialization_aliases", _ABSENT)
                if aliases is not _ABSENT and key in aliases:
                    explicit = aliases[key]
        return (key, id(shape), id(parent), obj.__class__.__name__, explicit)

    def get_possible_keys(self: Any, context: Any) -> Any:
        shape = context.shape
        parent = getattr(shape, "parent", _ABSENT)
        if self.alias_providers is not defaults or shape is None or parent is None:
            return original_keys(self, context)
        mk = memo_key(context.obj, context.key, shape, parent)
        hit = memo.get(mk)
        if hit is not None and hit[0] is shape and hit[1] is parent:
            return hit[2]
        keys = tuple(original_keys(self, context))
        memo[mk] = (shape, parent, keys)  # holds them: their ids stay theirs
        return keys

    def get_value(self: Any, value: Any, key: str, shape: Any) -> Any:
        picker = self._value_picker
        parent = getattr(shape, "parent", _ABSENT)
        if (
            type(picker) is not picker_class
            or picker.response_transformers
            or picker.alias_providers is not defaults
            or picker_class.__call__ is not picker_call
            or shape is None
            or parent is None
        ):
            return original_get_value(self, value, key, shape)
        hit = memo.get(memo_key(value, key, shape, parent))
        if hit is None or hit[0] is not shape or hit[1] is not parent:
            return original_get_value(self, value, key, shape)  # fills the memo
        if type(value) is dict:  # moto's get_value on a dict: value[key], if it is there
            for possible_key in hit[2]:
                if "." in possible_key:
                    found = serialize.get_value(value, possible_key, serialize.MISSING)
                    if found is not serialize.MISSING:
                        return found
                elif possible_key in value:
                    return value[possible_key]
            return None
        for possible_key in hit[2]:
            found = serialize.get_value(value, possible_key, serialize.MISSING)
            if found is not serialize.MISSING:
                return found
        return None

    patch(picker_class, "get_possible_keys", get_possible_keys)
    patch(serialize.ResponseSerializer, "get_value", get_value)


class _Fallback(Exception):
    """A case fast_json_structures does not follow: moto's own code serializes it."""


# The JSON serializer's methods fast_json_structures follows (moto 5.2's), by name.
_R, _J, _BR = serialize.ResponseSerializer, serialize.BaseJSONSerializer, serialize.BaseRestSerializer
_FOLLOWED = {
    "_serialize": _R._serialize,
    "_default_serialize": _R._default_serialize,
    "get_serialized_name": _R.get_serialized_name,
    "_serialize_type_list": _J._serialize_type_list,
    "_serialize_type_map": _J._serialize_type_map,
    "_serialize_type_string": _J._serialize_type_string,
    "_serialize_type_timestamp": _R._serialize_type_timestamp,
    "_serialize_type_blob": _R._serialize_type_blob,
    "_serialize_type_integer": _R._serialize_type_integer,
    "_serialize_type_long": _R._serialize_type_long,
    "_serialize_type_float": _R._serialize_type_float,
    "_serialize_type_double": _R._serialize_type_double,
}
_MEMBER_METHODS = (_R._serialize_structure_member, _BR._serialize_structure_member)


def fast_json_structures(patch: Any) -> None:
    """The JSON serializer writes a nested structure member by member through five method
    calls each (the dispatch on the shape's type, the key path kept for response
    transformers, the picker): DescribeCluster's cluster is ~50 members. With no response
    transformers the key path is never read, so a nested structure is written here by the
    same rules in one recursion: moto 5.2's BaseJSONSerializer/ResponseSerializer methods
    (_FOLLOWED), checked to be the ones the serializer's class has. Anything else (a member
    bound to a header, a member named "body", an empty key, a type this does not follow, an
    exception) is serialized by moto's own code from the start of the structure."""
    original = _J.__dict__["_serialize_type_structure"]
    verified: dict[type, bool] = {}

    def follows(cls: type) -> bool:
        known = verified.get(cls)
        if known is None:
            known = (
                all(getattr(cls, name, None) is method for name, method in _FOLLOWED.items())
                and getattr(cls, "_serialize_type_structure", None) is _serialize_type_structure
                and getattr(cls, "_serialize_structure_member", None) in _MEMBER_METHODS
                and getattr(cls, "get_value", None) is _R.__dict__["get_value"]
                and not hasattr(cls, "_serialize_type_boolean")
            )
            verified[cls] = known
        return known

    def write(self: Any, out: dict[str, Any], value: Any, shape: Any, key: str) -> None:
        """self._serialize(out, value, shape, key), without the key path."""
        kind = shape.type_name
        if kind == "structure":
            if shape.is_document_type:
                out[key] = value
                return
            if value is None:
                return
            if not key:
                raise _Fallback
            out[shape.serialization.get("name", key)] = structure(self, value, shape)
            return
        name = shape.serialization.get("name", key)
        if kind == "string":
            if isinstance(value, Enum):
                value = value.value
            out[name] = str(value) if value not in [None, {}, []] else value
        elif kind == "list":
            member = shape.member
            item_key = member.name
            items = []
            for item in value:
                wrapper: dict[str, Any] = {}
                write(self, wrapper, item, member, item_key)
                items.append(wrapper[item_key] if item_key in wrapper else item)
            out[name] = items
        elif kind == "map":
            mapping: dict[str, Any] = {}
            out[name] = mapping
            value_shape = shape.value
            for sub_key, sub_value in value.items():
                write(self, mapping, sub_value, value_shape, sub_key)
        elif kind == "timestamp":
            wrapper = {}
            self._timestamp_serializer.serialize(wrapper, value, shape, "timestamp")
            out[name] = wrapper["timestamp"]
        elif kind == "blob":
            out[name] = self._base64(value)
        elif kind in ("integer", "long"):
            out[name] = int(value)
        elif kind in ("float", "double"):
            out[name] = float(value)
        elif hasattr(type(self), f"_serialize_type_{kind}"):
            raise _Fallback
        else:
            out[name] = value

    plans: dict[tuple[int, str], tuple[Any, list[tuple[str, Any, tuple[str, ...]]]]] = {}

    def plan(self: Any, value: Any, shape: Any) -> list[tuple[str, Any, tuple[str, ...]]] | None:
        """The members of a structure with the names the picker tries for each, for objects
        of this class without explicit aliases (the picker's memo, read once per structure)."""
        if type(value) is not dict:
            meta = getattr(value, "Meta", _ABSENT)
            if meta is not _ABSENT and getattr(meta, "serialization_aliases", _ABSENT) is not _ABSENT:
                return None  # explicit aliases: member by member through get_value
        memo_key = (id(shape), value.__class__.__name__)
        known = plans.get(memo_key)
        if known is not None and known[0] is shape:
            return known[1]
        members = []
        picker = self._value_picker
        for member_key, member_shape in shape.members.items():
            member_shape.parent = shape
            if "location" in member_shape.serialization:
                raise _Fallback
            context = serialize.AttributePickerContext(
                obj=value, key=member_key, shape=member_shape,
                operation_model=self.operation_model, service_model=self.service_model,
            )
            members.append((member_key, member_shape, tuple(picker.get_possible_keys(context))))
        plans[memo_key] = (shape, members)
        return members

    def structure(self: Any, value: Any, shape: Any) -> dict[str, Any]:
        wrapper: dict[str, Any] = {}
        members = plan(self, value, shape)
        if members is None:
            for member_key, member_shape in shape.members.items():
                member_shape.parent = shape
                if "location" in member_shape.serialization or "body" in wrapper:
                    raise _Fallback
                member_value = self.get_value(value, member_key, member_shape)
                if member_value is not None:
                    write(self, wrapper, member_value, member_shape, member_key)
            return wrapper
        is_dict = type(value) is dict
        for member_key, member_shape, keys in members:
            member_shape.parent = shape  # as moto does, each time
            if "body" in wrapper:
                raise _Fallback
            member_value = None
            for possible_key in keys:  # the picker: the first name the object has
                if is_dict and "." not in possible_key:
                    if possible_key in value:
                        member_value = value[possible_key]
                        break
                else:
                    found = serialize.get_value(value, possible_key, serialize.MISSING)
                    if found is not serialize.MISSING:
                        member_value = found
                        break
            if member_value is not None:
                write(self, wrapper, member_value, member_shape, member_key)
        return wrapper

    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        picker = self._value_picker
        if (
            key
            and value is not None
            and not shape.is_document_type
            and type(picker) is serialize.XFormedAttributePicker
            and not picker.response_transformers
            and follows(type(self))
        ):
            try:
                wrapper = structure(self, value, shape)
            except Exception:  # _Fallback, or an error moto's own code raises as well
                pass
            else:
                self._default_serialize(serialized, wrapper, shape, key)
                return
        original(self, serialized, value, shape, key)

    patch(_J, "_serialize_type_structure", _serialize_type_structure)
