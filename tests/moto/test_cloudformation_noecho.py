"""NoEcho template parameters (cloudformation_noecho.py), through a real moto server:
masked where CloudFormation describes them, real where the stack uses them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

MASK = "****"
SECRET = "s3cret-sink-token-0001"
ROTATED = "s3cret-sink-token-0002"


def _template(*, no_echo: Any = True, default: str | None = None) -> str:
    """A stack that hands its SinkSecret parameter to an SSM parameter and an output,
    beside a plain parameter."""
    secret: dict[str, Any] = {"Type": "String", "NoEcho": no_echo}
    if default is not None:
        secret["Default"] = default
    return json.dumps(
        {
            "Parameters": {
                "SinkSecret": secret,
                "SinkName": {"Type": "String", "Default": "sink"},
            },
            "Resources": {
                "SinkSecretParameter": {
                    "Type": "AWS::SSM::Parameter",
                    "Properties": {
                        "Name": {"Fn::Sub": "/${AWS::StackName}/sink-secret"},
                        "Type": "String",
                        "Value": {"Ref": "SinkSecret"},
                    },
                }
            },
            # NoEcho does not mask outputs, as AWS documents: the template's author
            # chose to publish this one.
            "Outputs": {"Echoed": {"Value": {"Ref": "SinkSecret"}}},
        }
    )


def _name() -> str:
    return f"noecho-{uuid.uuid4().hex[:8]}"


def _described(cfn: Any, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """The stack's parameters and outputs, as DescribeStacks reports them."""
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return parameters, outputs


def _sink_secret(ssm: Any, name: str) -> str:
    return ssm.get_parameter(Name=f"/{name}/sink-secret")["Parameter"]["Value"]


@pytest.fixture(scope="module")
def ssm(client: Callable[[str], Any]) -> Any:
    return client("ssm")



def _stack_with_secret(cfn: Any) -> str:
    """A new stack of the test template whose NoEcho parameter holds SECRET; its name."""
    name = _name()
    cfn.create_stack(
        StackName=name,
        TemplateBody=_template(),
        Parameters=[{"ParameterKey": "SinkSecret", "ParameterValue": SECRET}],
    )
    return name

def test_describe_masks_a_no_echo_parameter_the_stack_still_uses(cfn: Any, ssm: Any) -> None:
    name = _stack_with_secret(cfn)
    parameters, outputs = _described(cfn, name)
    assert parameters == {"SinkSecret": MASK, "SinkName": "sink"}
    assert _sink_secret(ssm, name) == SECRET
    assert outputs["Echoed"] == SECRET


def test_an_update_with_a_new_value_applies_it_and_stays_masked(cfn: Any, ssm: Any) -> None:
    name = _stack_with_secret(cfn)
    cfn.update_stack(
        StackName=name,
        TemplateBody=_template(),
        Parameters=[
            {"ParameterKey": "SinkSecret", "ParameterValue": ROTATED},
            {"ParameterKey": "SinkName", "ParameterValue": "renamed"},
        ],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    parameters, outputs = _described(cfn, name)
    assert parameters == {"SinkSecret": MASK, "SinkName": "renamed"}
    assert _sink_secret(ssm, name) == ROTATED
    assert outputs["Echoed"] == ROTATED


def test_use_previous_value_keeps_the_real_value_not_the_mask(cfn: Any, ssm: Any) -> None:
    name = _stack_with_secret(cfn)
    cfn.update_stack(
        StackName=name,
        TemplateBody=_template(),
        Parameters=[
            {"ParameterKey": "SinkSecret", "UsePreviousValue": True},
            {"ParameterKey": "SinkName", "ParameterValue": "renamed"},
        ],
    )
    parameters, outputs = _described(cfn, name)
    assert parameters == {"SinkSecret": MASK, "SinkName": "renamed"}
    assert _sink_secret(ssm, name) == SECRET
    assert outputs["Echoed"] == SECRET


@pytest.mark.parametrize("no_echo", [True, "true", "True"])
def test_a_no_echo_default_is_masked_too(cfn: Any, ssm: Any, no_echo: Any) -> None:
    name = _name()
    cfn.create_stack(StackName=name, TemplateBody=_template(no_echo=no_echo, default=SECRET))
    parameters, _ = _described(cfn, name)
    assert parameters["SinkSecret"] == MASK
    assert _sink_secret(ssm, name) == SECRET


@pytest.mark.parametrize("no_echo", [False, "false"])
def test_a_parameter_without_no_echo_is_shown(cfn: Any, no_echo: Any) -> None:
    name = _name()
    cfn.create_stack(
        StackName=name,
        TemplateBody=_template(no_echo=no_echo),
        Parameters=[{"ParameterKey": "SinkSecret", "ParameterValue": SECRET}],
    )
    parameters, _ = _described(cfn, name)
    assert parameters["SinkSecret"] == SECRET


def test_an_update_that_drops_no_echo_shows_the_value(cfn: Any) -> None:
    name = _stack_with_secret(cfn)
    cfn.update_stack(
        StackName=name,
        TemplateBody=_template(no_echo=False),
        Parameters=[{"ParameterKey": "SinkSecret", "ParameterValue": ROTATED}],
    )
    parameters, _ = _described(cfn, name)
    assert parameters["SinkSecret"] == ROTATED


def test_describe_change_set_masks_and_execution_uses_the_real_value(
    cfn: Any, ssm: Any
) -> None:
    name = _stack_with_secret(cfn)
    cfn.create_change_set(
        StackName=name,
        ChangeSetName="rotate",
        ChangeSetType="UPDATE",
        TemplateBody=_template(),
        Parameters=[
            {"ParameterKey": "SinkSecret", "ParameterValue": ROTATED},
            {"ParameterKey": "SinkName", "ParameterValue": "renamed"},
        ],
    )
    change_set = cfn.describe_change_set(StackName=name, ChangeSetName="rotate")
    shown = {p["ParameterKey"]: p["ParameterValue"] for p in change_set["Parameters"]}
    assert shown == {"SinkSecret": MASK, "SinkName": "renamed"}

    cfn.execute_change_set(StackName=name, ChangeSetName="rotate")
    parameters, _ = _described(cfn, name)
    assert parameters == {"SinkSecret": MASK, "SinkName": "renamed"}
    assert _sink_secret(ssm, name) == ROTATED
