"""Flag and segment definitions: defaults, and a 400 that names the field for each broken rule."""

from __future__ import annotations

from typing import Any

import pytest

from flux.api import ApiError, error_codes, parse
from plugins.flags.definitions import FlagDefinition, Segment, semver_key


def rule(condition: dict[str, Any] | None = None, **outcome: Any) -> dict[str, Any]:
    condition = condition or {"attribute": "plan", "operator": "equals", "value": "pro"}
    return {"conditions": [condition], **(outcome or {"variant": "on"})}


def condition(operator: str, value: Any, attribute: str | None = "plan") -> dict[str, Any]:
    return rule({"attribute": attribute, "operator": operator, "value": value})


STRING = {"type": "string", "variants": {"a": "A", "b": "B"}, "default_variant": "a"}


def test_a_boolean_flag_needs_only_a_key():
    definition = FlagDefinition(key="new-ui")
    assert definition.variants == {"on": True, "off": False}
    assert (definition.default_variant, definition.off_variant) == ("on", "off")
    assert definition.enabled and definition.rules == [] and definition.rollout is None


def test_a_typed_flag_is_off_with_its_default_unless_told():
    definition = FlagDefinition.model_validate({"key": "colour", **STRING})
    assert (definition.default_variant, definition.off_variant) == ("a", "a")


def test_a_valid_definition_round_trips():
    body = {
        "key": "checkout.v2",
        **STRING,
        "off_variant": "b",
        "rules": [
            rule({"attribute": "app.version", "operator": "semver_gte", "value": "2.0.0-rc.1"}, variant="b"),
            rule(
                {"operator": "in_segment", "value": "beta"},
                rollout=[{"variant": "a", "weight": 10}, {"variant": "b", "weight": 90}],
            ),
            rule({"attribute": "email", "operator": "regex", "value": r"^[^@]+@example\.com$"}, variant="a"),
        ],
        "rollout": [{"variant": "a", "weight": 0}, {"variant": "b", "weight": 100}],
    }
    definition = FlagDefinition.model_validate(body)
    assert FlagDefinition.model_validate(definition.model_dump()) == definition


def too_big_object() -> dict[str, Any]:
    return {"type": "object", "variants": {"big": {"blob": "x" * 16 * 1024}}, "default_variant": "big"}


BAD, REQUIRED = error_codes.INVALID_FIELD, error_codes.FIELD_REQUIRED
VALUE = "rules.0.conditions.0.value: "
INVALID = [
    # body beyond {"key": "f"}, code, the start of the message (the path of what is wrong)
    ({"key": "New-UI"}, BAD, "key: 'New-UI' is not 1 to 128 lowercase"),
    ({"key": "a" * 129}, BAD, "key: "),
    ({"type": "date"}, BAD, "type: "),
    ({"display_name": "x" * 201}, BAD, "display_name: "),
    ({"description": "x" * 2001}, BAD, "description: "),
    ({"type": "string"}, REQUIRED, "variants: a string flag names its variants"),
    ({"type": "string", "variants": {"a": "A"}}, REQUIRED, "default_variant: a string flag"),
    ({"variants": {"on": 1, "off": 0}}, BAD, "variants.on: must be true or false"),
    ({**STRING, "variants": {"a": "A", "b": 2}}, BAD, "variants.b: must be a string"),
    (
        {"type": "number", "variants": {"one": True}, "default_variant": "one"},
        BAD,
        "variants.one: must be a finite number",
    ),
    (
        {"type": "object", "variants": {"one": [1]}, "default_variant": "one"},
        BAD,
        "variants.one: must be an object",
    ),
    (too_big_object(), error_codes.VALUE_TOO_LARGE, "variants.big: is 16395 bytes; at most 16384"),
    ({"variants": {"o n": True}}, BAD, "variants.o n.[key]: 'o n' is not 1 to 64"),
    ({"variants": {f"v{i}": True for i in range(51)}}, BAD, "variants: "),
    ({"variants": {}}, BAD, "variants: "),
    ({"variants": {"yes": True, "no": False}}, BAD, "default_variant: 'on' is not a variant"),
    ({**STRING, "off_variant": "z"}, BAD, "off_variant: 'z' is not a variant"),
    ({"rules": [rule(), rule(variant="blue")]}, BAD, "rules.1.variant: 'blue' is not a variant"),
    ({"rules": [rule()] * 51}, BAD, "rules: "),
    (
        {"rules": [rule(variant="on", rollout=[{"variant": "on", "weight": 100}])]},
        BAD,
        "rules.0: a rule serves exactly one",
    ),
    ({"rules": [{"conditions": [condition("equals", 1)["conditions"][0]]}]}, BAD, "rules.0: a rule serves exactly one"),
    ({"rules": [{"conditions": [], "variant": "on"}]}, BAD, "rules.0.conditions: "),
    (
        {"rules": [{"conditions": condition("equals", 1)["conditions"] * 21, "variant": "on"}]},
        BAD,
        "rules.0.conditions: ",
    ),
    ({"rules": [{"name": "x" * 101, **rule()}]}, BAD, "rules.0.name: "),
    ({"rollout": [{"variant": "on", "weight": 50}]}, BAD, "rollout: weights sum to 50; they must sum to 100"),
    (
        {"rollout": [{"variant": "on", "weight": 50}, {"variant": "on", "weight": 50}]},
        BAD,
        "rollout: variant 'on' is split twice",
    ),
    ({"rollout": [{"variant": "on", "weight": 101}]}, BAD, "rollout.0.weight: "),
    (
        {"rollout": [{"variant": "on", "weight": 60}, {"variant": "maybe", "weight": 40}]},
        BAD,
        "rollout.1.variant: 'maybe' is not a variant",
    ),
    ({"rollout": []}, BAD, "rollout: "),
    ({"rules": [rule(rollout=[{"variant": "on", "weight": 90}])]}, BAD, "rules.0.rollout: weights sum to 90"),
    (
        {"rules": [rule(rollout=[{"variant": "on", "weight": 50}, {"variant": "x", "weight": 50}])]},
        BAD,
        "rules.0.rollout.1.variant: 'x' is not a variant",
    ),
    ({"rules": [condition("like", "x")]}, BAD, "rules.0.conditions.0.operator: "),
    (
        {"rules": [condition("equals", "x", attribute=None)]},
        REQUIRED,
        "rules.0.conditions.0: equals needs an attribute",
    ),
    ({"rules": [condition("equals", "x", attribute="a..b")]}, BAD, "rules.0.conditions.0.attribute: 'a..b' is not"),
    ({"rules": [condition("equals", "x", attribute="a" * 129)]}, BAD, "rules.0.conditions.0.attribute: "),
    ({"rules": [condition("equals", ["x"])]}, BAD, VALUE + "equals takes a string, number"),
    ({"rules": [condition("not_equals", {"a": 1})]}, BAD, VALUE + "not_equals takes"),
    ({"rules": [condition("in", "x")]}, BAD, VALUE + "in takes a list of at most 1000"),
    ({"rules": [condition("not_in", list(range(1001)))]}, BAD, VALUE + "not_in takes a list"),
    ({"rules": [condition("in", [["nested"]])]}, BAD, VALUE + "in takes a list"),
    ({"rules": [condition("starts_with", 5)]}, BAD, VALUE + "starts_with takes a string"),
    ({"rules": [condition("not_contains", None)]}, BAD, VALUE + "not_contains takes a string"),
    ({"rules": [condition("regex", "(unclosed")]}, BAD, VALUE + "'(unclosed' is not an RE2 regular expression"),
    ({"rules": [condition("regex", "x" * 501)]}, BAD, VALUE + "a pattern is at most 500"),
    ({"rules": [condition("regex", r"(a)\1")]}, BAD, VALUE + "'(a)\\\\1' is not an RE2 regular expression"),
    ({"rules": [condition("regex", 5)]}, BAD, VALUE + "regex takes a string"),
    ({"rules": [condition("lt", "5")]}, BAD, VALUE + "lt takes a finite number"),
    ({"rules": [condition("gte", True)]}, BAD, VALUE + "gte takes a finite number"),
    (
        {"rules": [rule(), rule(), condition("semver_gt", "x")]},
        BAD,
        "rules.2.conditions.0.value: 'x' is not a valid semver version",
    ),
    ({"rules": [condition("semver_eq", "1.0")]}, BAD, VALUE + "'1.0' is not a valid semver"),
    ({"rules": [condition("semver_lt", 1)]}, BAD, VALUE + "1 is not a valid semver"),
    ({"rules": [condition("in_segment", "beta")]}, BAD, "rules.0.conditions.0: in_segment takes no attribute"),
    (
        {"rules": [condition("not_in_segment", "Beta!", attribute=None)]},
        BAD,
        VALUE + "not_in_segment takes a segment key",
    ),
]


@pytest.mark.parametrize(("body", "code", "message"), INVALID)
def test_a_broken_rule_answers_a_400_naming_the_field(body, code, message):
    with pytest.raises(ApiError) as caught:
        parse(FlagDefinition, {"key": "f", **body})
    assert (caught.value.code, caught.value.status) == (code, error_codes.lookup(code).status)
    assert caught.value.message.startswith(message), caught.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"key": "beta"}, "conditions: Field required"),
        ({"key": "beta", "conditions": []}, "conditions: "),
        ({"key": "Beta", "conditions": [{"attribute": "a", "operator": "equals", "value": 1}]}, "key: 'Beta' is not"),
        (
            {"key": "beta", "conditions": [{"operator": "in_segment", "value": "other"}]},
            "conditions.0.operator: a segment",
        ),
        ({"key": "beta", "conditions": [{"attribute": "a", "operator": "gt", "value": "x"}]}, "conditions.0.value: gt"),
    ],
)
def test_a_broken_segment_answers_a_400_naming_the_field(body, message):
    with pytest.raises(ApiError) as caught:
        parse(Segment, body)
    assert caught.value.status == 400
    assert caught.value.message.startswith(message), caught.value.message


def test_semver_precedence_follows_semver_2():
    ordered = [
        "0.9.9", "1.0.0-0", "1.0.0-0.3.7", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
        "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0", "10.0.0",
    ]  # fmt: skip
    keys = [semver_key(version) for version in ordered]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert semver_key("1.0.0+build.1") == semver_key("1.0.0+exp.sha.5114f85") == semver_key("1.0.0")
    assert semver_key("1.0.0-x.7.z.92") is not None


@pytest.mark.parametrize(
    "text",
    ["1.0", "1", "01.0.0", "1.0.0-01", "v1.0.0", "1.0.0-", "1.0.0+", "1.0.0-a..b", "\uff11.0.0", " 1.0.0", "1." * 200],
)
def test_a_string_that_is_no_version_has_no_key(text):
    assert semver_key(text) is None
