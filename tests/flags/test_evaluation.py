"""The flag evaluation engine, table-driven: no app, no database."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from plugins.flags.definitions import FlagDefinition, Segment
from plugins.flags.evaluation import (
    DEFAULT,
    DISABLED,
    SPLIT,
    STATIC,
    TARGETING_KEY_MISSING,
    TARGETING_MATCH,
    Evaluation,
    compile_flag,
    evaluate_all,
)

ABSENT = object()  # the context lacks the attribute
MATCH = (True, "on", TARGETING_MATCH)
NO_MATCH = (False, "off", DEFAULT)


def flag(body: dict[str, Any], segments: dict[str, Segment] | None = None):
    return compile_flag(FlagDefinition.model_validate({"key": "f", **body}), segments or {})


def one_rule(condition: dict[str, Any], segments: dict[str, Segment] | None = None):
    """A boolean flag that serves `on` when `condition` holds, else `off` (its default)."""
    return flag({"default_variant": "off", "rules": [{"conditions": [condition], "variant": "on"}]}, segments)


def outcome(evaluation: Evaluation) -> tuple[Any, str, str]:
    assert evaluation.error_code is None
    return evaluation.value, evaluation.variant, evaluation.reason


LONG = "a" * 4097
OPERATOR_CASES = [
    # operator, condition value, the attribute's value in the context, whether the rule matches
    ("equals", "pro", "pro", True),
    ("equals", "pro", "Pro", False),
    ("equals", 1, 1.0, True),
    ("equals", 1, "1", False),
    ("equals", True, 1, False),
    ("equals", 1, True, False),
    ("equals", False, False, True),
    ("equals", None, None, True),
    ("equals", None, "", False),
    ("equals", "pro", ABSENT, False),
    ("not_equals", "pro", "free", True),
    ("not_equals", "pro", "pro", False),
    ("not_equals", 1, True, True),
    ("not_equals", "x", None, True),
    ("not_equals", "pro", ABSENT, False),
    ("in", ["a", "b"], "a", True),
    ("in", ["a", "b"], "c", False),
    ("in", [1, 2], 2.0, True),
    ("in", [1], True, False),
    ("in", [True], 1, False),
    ("in", [True], True, True),
    ("in", [None, "a"], None, True),
    ("in", ["a"], {"a": 1}, False),
    ("in", ["a"], ABSENT, False),
    ("not_in", ["a"], "b", True),
    ("not_in", ["a"], "a", False),
    ("not_in", [1], True, True),
    ("not_in", ["a"], ["a"], True),
    ("not_in", ["a"], ABSENT, False),
    ("contains", "ell", "hello", True),
    ("contains", "xyz", "hello", False),
    ("contains", "1", 12, False),
    ("contains", "ell", ["ell"], False),
    ("contains", "ell", ABSENT, False),
    ("not_contains", "xyz", "hello", True),
    ("not_contains", "ell", "hello", False),
    ("not_contains", "1", 5, False),
    ("not_contains", "x", ABSENT, False),
    ("starts_with", "he", "hello", True),
    ("starts_with", "lo", "hello", False),
    ("starts_with", "1", 12, False),
    ("ends_with", "lo", "hello", True),
    ("ends_with", "he", "hello", False),
    ("ends_with", "2", 12, False),
    ("regex", "^a.*z$", "abcz", True),
    ("regex", "^a.*z$", "abc", False),
    ("regex", "b", "abc", True),  # a search: anchor to match the whole string
    ("regex", "1", 1, False),
    ("regex", "a", LONG, False),  # longer than 4096 characters
    ("regex", "a", ABSENT, False),
    ("lt", 10, 5, True),
    ("lt", 10, 10, False),
    ("lte", 10, 10.0, True),
    ("lte", 10, 10.5, False),
    ("gt", 1.5, 2, True),
    ("gt", 1.5, 1.5, False),
    ("gte", 0, 0, True),
    ("gte", 0, -1, False),
    ("gt", 0, True, False),
    ("lt", 10, "5", False),
    ("lt", 10, None, False),
    ("lt", 10, ABSENT, False),
    ("semver_eq", "1.0.0", "1.0.0+build.5", True),
    ("semver_eq", "1.0.0", "1.0.0-rc.1", False),
    ("semver_lt", "1.0.0", "1.0.0-rc.1", True),
    ("semver_lt", "1.0.0", "1.0.0", False),
    ("semver_lte", "2.0.0", "2.0.0", True),
    ("semver_lte", "2.0.0", "10.0.0", False),
    ("semver_gt", "1.0.0-alpha", "1.0.0-alpha.1", True),
    ("semver_gt", "1.0.0-beta.11", "1.0.0-beta.2", False),
    ("semver_gte", "2.0.0", "2.0.1", True),
    ("semver_gte", "2.0.0", "1.99.99", False),
    ("semver_gte", "1.0.0", "2.0", False),  # not a version
    ("semver_gte", "1.0.0", "v2.0.0", False),
    ("semver_gte", "1.0.0", 2, False),
    ("semver_gte", "1.0.0", ABSENT, False),
]


@pytest.mark.parametrize(("operator", "value", "attribute", "matches"), OPERATOR_CASES)
def test_an_operator_holds_only_for_values_of_its_type(operator, value, attribute, matches):
    compiled = one_rule({"attribute": "plan", "operator": operator, "value": value})
    context = {"targetingKey": "user-1"} if attribute is ABSENT else {"targetingKey": "user-1", "plan": attribute}
    assert outcome(compiled.evaluate(context)) == (MATCH if matches else NO_MATCH)


@pytest.mark.parametrize(
    ("context", "matches"),
    [
        ({"app": {"build": {"version": "2.1.0"}}}, True),
        ({"app": {"build": {"version": "1.9.0"}}}, False),
        ({"app": {"build": {}}}, False),
        ({"app": {"build": "2.1.0"}}, False),
        ({"app": ["build"]}, False),
        ({"app": None}, False),
        ({"app.build.version": "2.1.0"}, False),  # a dotted name always walks objects
        ({}, False),
    ],
)
def test_a_dotted_attribute_walks_nested_objects(context, matches):
    compiled = one_rule({"attribute": "app.build.version", "operator": "semver_gte", "value": "2.0.0"})
    assert outcome(compiled.evaluate(context)) == (MATCH if matches else NO_MATCH)


def test_the_targeting_key_is_an_attribute():
    compiled = one_rule({"attribute": "targetingKey", "operator": "in", "value": ["alice", "bob"]})
    assert outcome(compiled.evaluate({"targetingKey": "bob"})) == MATCH
    assert outcome(compiled.evaluate({"targetingKey": "carol"})) == NO_MATCH
    assert outcome(compiled.evaluate({})) == NO_MATCH


BETA = Segment(
    key="beta",
    conditions=[
        {"attribute": "email", "operator": "ends_with", "value": "@example.com"},
        {"attribute": "country", "operator": "in", "value": ["FR", "DE"]},
    ],
)
SEGMENT_CASES = [
    ({"email": "a@example.com", "country": "FR"}, True),
    ({"email": "a@example.com", "country": "US"}, False),
    ({"email": "a@other.org", "country": "FR"}, False),
    ({"email": "a@example.com"}, False),
]


@pytest.mark.parametrize(("context", "member"), SEGMENT_CASES)
def test_in_segment_needs_every_condition_of_the_segment(context, member):
    compiled = one_rule({"operator": "in_segment", "value": "beta"}, {"beta": BETA})
    assert outcome(compiled.evaluate(context)) == (MATCH if member else NO_MATCH)


@pytest.mark.parametrize(
    ("context", "matches"),
    [
        ({"email": "a@example.com", "country": "FR"}, False),
        ({"email": "a@example.com", "country": "US"}, True),
        ({"email": "a@example.com"}, False),  # an attribute the segment tests is missing
        ({}, False),
    ],
)
def test_not_in_segment_needs_the_attributes_the_segment_tests(context, matches):
    compiled = one_rule({"operator": "not_in_segment", "value": "beta"}, {"beta": BETA})
    assert outcome(compiled.evaluate(context)) == (MATCH if matches else NO_MATCH)


@pytest.mark.parametrize("operator", ["in_segment", "not_in_segment"])
def test_an_unknown_segment_never_matches_and_is_named(operator):
    compiled = one_rule({"operator": operator, "value": "gone"}, {"beta": BETA})
    assert compiled.unknown_segments == frozenset({"gone"})
    assert outcome(compiled.evaluate({"email": "a@example.com", "country": "FR"})) == NO_MATCH
    assert one_rule({"operator": operator, "value": "beta"}, {"beta": BETA}).unknown_segments == frozenset()


RULES = [
    {"conditions": [{"attribute": "plan", "operator": "equals", "value": "pro"}], "variant": "green"},
    {"conditions": [{"attribute": "country", "operator": "equals", "value": "FR"}], "variant": "blue"},
    {
        "conditions": [
            {"attribute": "country", "operator": "equals", "value": "DE"},
            {"attribute": "age", "operator": "gte", "value": 18},
        ],
        "variant": "green",
    },
]
TEAM_GETS_LOW = [{"conditions": [{"attribute": "plan", "operator": "equals", "value": "team"}], "variant": "low"}]
COLOURS = {"type": "string", "variants": {"red": "#f00", "green": "#0f0", "blue": "#00f"}, "default_variant": "red"}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"plan": "pro", "country": "FR"}, ("#0f0", "green", TARGETING_MATCH)),  # the first match wins
        ({"plan": "free", "country": "FR"}, ("#00f", "blue", TARGETING_MATCH)),
        ({"country": "DE", "age": 30}, ("#0f0", "green", TARGETING_MATCH)),
        ({"country": "DE", "age": 12}, ("#f00", "red", DEFAULT)),  # every condition of a rule must hold
        ({"country": "DE"}, ("#f00", "red", DEFAULT)),
        ({}, ("#f00", "red", DEFAULT)),
    ],
)
def test_rules_are_tried_in_order(context, expected):
    assert outcome(flag({**COLOURS, "rules": RULES}).evaluate(context)) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, (True, "on", STATIC)),
        ({"enabled": False}, (False, "off", DISABLED)),
        (
            {"enabled": False, "rules": [{"conditions": RULES[0]["conditions"], "variant": "on"}]},
            (False, "off", DISABLED),
        ),
        ({**COLOURS}, ("#f00", "red", STATIC)),
        ({**COLOURS, "enabled": False}, ("#f00", "red", DISABLED)),  # off_variant defaults to default_variant
        ({**COLOURS, "enabled": False, "off_variant": "blue", "rules": RULES}, ("#00f", "blue", DISABLED)),
        (
            {"type": "number", "variants": {"low": 0.5, "high": 10}, "default_variant": "high", "rules": TEAM_GETS_LOW},
            (10, "high", DEFAULT),
        ),
        (
            {"type": "object", "variants": {"v1": {"limit": 5, "tags": ["a"]}}, "default_variant": "v1"},
            ({"limit": 5, "tags": ["a"]}, "v1", STATIC),
        ),
    ],
)
def test_disabled_static_and_typed_flags(body, expected):
    assert outcome(flag(body).evaluate({"plan": "pro"})) == expected


def test_a_matching_rule_serves_its_typed_value():
    compiled = flag({**COLOURS, "type": "number", "variants": {"red": 1, "green": 2.5, "blue": 3}, "rules": RULES})
    assert outcome(compiled.evaluate({"plan": "pro"})) == (2.5, "green", TARGETING_MATCH)


def rollout_flag(weights: dict[str, int], key: str = "f"):
    splits = [{"variant": name, "weight": weight} for name, weight in weights.items()]
    variants = {name: name.upper() for name in weights}
    return compile_flag(
        FlagDefinition(key=key, type="string", variants=variants, default_variant=next(iter(weights)), rollout=splits),
        {},
    )


def variants_of(compiled, keys) -> list[str]:
    return [compiled.evaluate({"targetingKey": key}).variant for key in keys]


def test_a_rollout_is_sticky_as_its_first_share_grows():
    keys = [f"user-{index}" for index in range(1000)]
    previous: set[str] = set()
    for share in (10, 20, 50, 100):
        compiled = rollout_flag({"new": share, "old": 100 - share})
        inside = {key for key in keys if compiled.evaluate({"targetingKey": key}).variant == "new"}
        assert previous <= inside
        previous = inside
    assert len(previous) == 1000


def test_a_rollout_shares_keys_by_weight():
    weights = {"a": 20, "b": 30, "c": 0, "d": 50}
    chosen = variants_of(rollout_flag(weights), [f"user-{index}" for index in range(10_000)])
    for name, weight in weights.items():
        assert abs(chosen.count(name) / 100 - weight) <= 3, name
    assert chosen.count("c") == 0


def test_the_bucket_is_sha256_of_flag_key_and_targeting_key():
    compiled = rollout_flag({"a": 50, "b": 50}, key="checkout")
    for key in ("alice", "bob", "carol", "dave"):
        bucket = int.from_bytes(hashlib.sha256(f"checkout:{key}".encode()).digest()[:8], "big") % 10_000
        assert compiled.evaluate({"targetingKey": key}) == Evaluation(
            "A" if bucket < 5000 else "B", "a" if bucket < 5000 else "b", SPLIT
        )


def test_flags_of_other_keys_split_the_same_keys_differently():
    keys = [f"user-{index}" for index in range(1000)]
    assert variants_of(rollout_flag({"a": 50, "b": 50}, "one"), keys) != variants_of(
        rollout_flag({"a": 50, "b": 50}, "two"), keys
    )


@pytest.mark.parametrize("context", [{}, {"targetingKey": ""}, {"targetingKey": 42}, {"targetingKey": None}])
def test_a_rollout_without_a_targeting_key_serves_the_default(context):
    compiled = rollout_flag({"a": 10, "b": 90})
    assert compiled.evaluate(context) == Evaluation("A", "a", DEFAULT, TARGETING_KEY_MISSING)


def test_a_rule_can_split_and_a_rule_that_does_not_match_falls_through_to_the_rollout():
    compiled = flag(
        {
            **COLOURS,
            "rules": [
                {
                    "conditions": [{"attribute": "plan", "operator": "equals", "value": "pro"}],
                    "rollout": [{"variant": "green", "weight": 100}],
                }
            ],
            "rollout": [{"variant": "blue", "weight": 100}],
        }
    )
    assert outcome(compiled.evaluate({"targetingKey": "u", "plan": "pro"})) == ("#0f0", "green", SPLIT)
    assert outcome(compiled.evaluate({"targetingKey": "u", "plan": "free"})) == ("#00f", "blue", SPLIT)
    assert compiled.evaluate({"plan": "pro"}) == Evaluation("#f00", "red", DEFAULT, TARGETING_KEY_MISSING)


def test_evaluate_all_answers_every_flag_by_key():
    flags = [compile_flag(FlagDefinition(key=f"flag-{index}", enabled=index % 2 == 0), {}) for index in range(100)]
    answers = evaluate_all(flags, {"targetingKey": "u"})
    assert len(answers) == 100
    assert answers["flag-0"].reason == STATIC
    assert answers["flag-1"].reason == DISABLED
