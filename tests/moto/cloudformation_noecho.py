"""``NoEcho`` template parameters in moto's CloudFormation.

AWS CloudFormation reports the value of a parameter declared ``"NoEcho": true`` as
``****`` wherever it describes a stack's parameters (``DescribeStacks``,
``DescribeChangeSet``), whether the value was passed or is the template's default, while
the stack itself uses the real value: a ``Ref`` to the parameter in a resource property
resolves to it, and so does ``UsePreviousValue`` on an update. AWS documents that
``NoEcho`` does not mask what the template itself puts elsewhere (``Outputs``,
``Metadata``), so an output that refers to the parameter shows the clear value.

moto 5.2.5 means to mask but does not: ``Stack.parameter_list`` tests the parameter's
*value* against the list of NoEcho *keys*, so the clear value is shown (unless it
happens to equal a NoEcho parameter's name); that list also holds only parameters that
were passed, not defaults; and ``DescribeChangeSet`` shows the passed values as given.
(It also takes ``"NoEcho": "false"`` for true.) This module masks by key, from the
template's declarations (``NoEcho`` as a boolean or as the string ``"true"``, in any
case), and leaves the values the stack resolves untouched.

Import this module before moto's server handles a request (server.py does); the patches
happen at import time.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.models import ChangeSet, Stack

#: What AWS shows in place of a NoEcho parameter's value.
MASK = "****"


def _declared_no_echo(template: Any) -> set[str]:
    """Names of the parameters a (parsed) template declares NoEcho."""
    if not isinstance(template, dict):
        return set()
    declared = template.get("Parameters") or {}
    if not isinstance(declared, dict):
        return set()
    return {
        name
        for name, slot in declared.items()
        if isinstance(slot, dict) and _true(slot.get("NoEcho"))
    }


def _true(value: Any) -> bool:
    # Templates carry booleans as strings too ("true"), which CloudFormation accepts.
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def _hidden_in_stack(stack: Stack) -> set[str]:
    # The stack's current template and the one its resources were last resolved from
    # (the same but for a moment during an update or a rollback): hiding a parameter
    # either declares NoEcho errs on the side of not showing it. Not moto's own
    # no_echo_parameter_keys: it takes the string "false" for true.
    resource_map = getattr(stack, "resource_map", None)
    return _declared_no_echo(getattr(stack, "template_dict", None)) | _declared_no_echo(
        getattr(resource_map, "_template", None)
    )


_stack_parameter_list = Stack.parameter_list.fget
assert _stack_parameter_list is not None


def _masked_parameter_list(self: Stack) -> list[dict[str, Any]]:
    """DescribeStacks' Parameters (moto serializes Stack.parameter_list as them)."""
    hidden = _hidden_in_stack(self)
    return [
        {**entry, "ParameterValue": MASK} if entry.get("ParameterKey") in hidden else entry
        for entry in _stack_parameter_list(self)
    ]


def _masked_change_set_parameters(self: ChangeSet) -> dict[str, Any]:
    """DescribeChangeSet's Parameters. ``ChangeSet.parameters`` itself keeps the real
    values: executing the change set applies them."""
    hidden = _declared_no_echo(getattr(self, "template_dict", None))
    return {key: MASK if key in hidden else value for key, value in self.parameters.items()}


class _ChangeSetMeta:
    # moto's serializer reads a model's attribute through Meta.serialization_aliases
    # when it has one (as Stack's "Parameters" -> parameter_list).
    serialization_aliases = {"Parameters": "masked_parameters"}


def _patch() -> None:
    Stack.parameter_list = property(_masked_parameter_list)  # type: ignore[method-assign,assignment]
    if hasattr(ChangeSet, "Meta"):
        # Fail loudly if a moto upgrade gave ChangeSet aliases of its own.
        raise RuntimeError("moto's ChangeSet has serialization aliases now: merge, not replace")
    ChangeSet.Meta = _ChangeSetMeta  # type: ignore[attr-defined]
    ChangeSet.masked_parameters = property(_masked_change_set_parameters)  # type: ignore[attr-defined]


_patch()
