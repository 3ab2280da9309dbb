"""What a custom flag and a segment are: the flags plugin's bodies, checked once on the way in.

A definition that validates is one `plugins.flags.evaluation.compile_flag` always
compiles: every variant it names exists, every value fits the flag's type, every regex
compiles, every version parses. A rule that spans fields is checked by the model that
holds them all, and its message starts with the path of what is wrong
(`rules.2.variant: 'blue' is not a variant of this flag`).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import re2
from pydantic import AfterValidator, Field, JsonValue, StrictBool, ValidationInfo, field_validator, model_validator

from flux.api import ApiModel, Description, error_codes, json_at_most, matching, rule_error

KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")
KEY_RULE = "1 to 128 lowercase letters, digits, '_', '.' and '-', starting with a letter or digit"
VARIANT_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
VARIANT_RULE = "1 to 64 letters, digits, '_', '.' and '-'"
ATTRIBUTE_PATTERN = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
ATTRIBUTE_RULE = "at most 128 characters: names of letters, digits, '_' and '-', joined by dots into nested objects"
MAX_VARIANTS, MAX_VARIANT_BYTES = 50, 16 * 1024
MAX_RULES, MAX_CONDITIONS, MAX_LIST_ITEMS, MAX_PATTERN_LENGTH = 50, 20, 1000, 500
ROLLOUT_TOTAL = 100

EQUALITY = frozenset({"equals", "not_equals"})
MEMBERSHIP = frozenset({"in", "not_in"})
TEXT = frozenset({"contains", "not_contains", "starts_with", "ends_with"})
NUMERIC = frozenset({"lt", "lte", "gt", "gte"})
SEMVER = frozenset({"semver_eq", "semver_lt", "semver_lte", "semver_gt", "semver_gte"})
SEGMENT = frozenset({"in_segment", "not_in_segment"})
Operator = Literal[
    "equals", "not_equals", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with", "regex",
    "lt", "lte", "gt", "gte", "semver_eq", "semver_lt", "semver_lte", "semver_gt", "semver_gte",
    "in_segment", "not_in_segment",
]  # fmt: skip
FlagType = Literal["boolean", "string", "number", "object"]

# Versions compare by Semantic Versioning 2.0.0 precedence, pre-releases included
# (1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-beta < 1.0.0-rc.1 < 1.0.0). `packaging` is not a
# dependency, and its PEP 440 order is another one: it rejects 1.0.0-x.7.z.92 and
# reads 1.0.0-rc.1 as 1.0.0rc1. So a parser of our own, ASCII digits only.
SEMVER_PATTERN = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
MAX_SEMVER_LENGTH = 256


def semver_key(text: str) -> tuple | None:
    """A tuple that sorts as `text`'s semver precedence (build metadata ignored), or None if it is no version.

    A release sorts after its pre-releases; pre-release identifiers compare numerically
    when numeric, else in ASCII order, numeric before alphanumeric, fewer before more.
    """
    match = SEMVER_PATTERN.fullmatch(text) if len(text) <= MAX_SEMVER_LENGTH else None
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    identifiers = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split("."))
    return (int(major), int(minor), int(patch), 0, identifiers)


def regex(pattern: str) -> re2._Regexp:
    """A pattern compiled by RE2, which matches in time linear in the subject.

    Tenant admins write these patterns and every tenant's requests evaluate them:
    Python's backtracking `re` takes exponential time on `(a|a)*$` and the like, which
    no check of a pattern's shape catches. RE2 has no backreferences or lookaround.
    """
    return re2.compile(pattern, _RE2_OPTIONS)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the API's 400, not a line on stderr


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _is_scalar(value: Any) -> bool:
    return value is None or type(value) in (str, bool) or _is_number(value)


def _split_weights(splits: list[Split]) -> list[Split]:
    total = sum(split.weight for split in splits)
    if total != ROLLOUT_TOTAL:
        raise rule_error(error_codes.INVALID_FIELD, f"weights sum to {total}; they must sum to {ROLLOUT_TOTAL}")
    names = [split.variant for split in splits]
    for name in names:
        if names.count(name) > 1:
            raise rule_error(error_codes.INVALID_FIELD, f"variant {name!r} is split twice")
    return splits


Key = Annotated[str, Field(max_length=128), matching(KEY_PATTERN, "{value} is not " + KEY_RULE)]
VariantName = Annotated[str, Field(max_length=64), matching(VARIANT_PATTERN, "{value} is not " + VARIANT_RULE)]
Attribute = Annotated[str, Field(max_length=128), matching(ATTRIBUTE_PATTERN, "{value} is not " + ATTRIBUTE_RULE)]


class Condition(ApiModel):
    """One test of the evaluation context; a segment operator tests a segment instead of an attribute."""

    attribute: Attribute | None = None
    operator: Operator
    value: JsonValue

    @field_validator("value")
    @classmethod
    def _value_fits_operator(cls, value: JsonValue, info: ValidationInfo) -> JsonValue:
        operator = info.data.get("operator")
        if operator in EQUALITY and not _is_scalar(value):
            raise rule_error(error_codes.INVALID_FIELD, f"{operator} takes a string, number, boolean or null")
        if operator in MEMBERSHIP and not (
            isinstance(value, list) and len(value) <= MAX_LIST_ITEMS and all(_is_scalar(item) for item in value)
        ):
            raise rule_error(
                error_codes.INVALID_FIELD,
                f"{operator} takes a list of at most {MAX_LIST_ITEMS} strings, numbers, booleans or nulls",
            )
        if operator in TEXT and not isinstance(value, str):
            raise rule_error(error_codes.INVALID_FIELD, f"{operator} takes a string")
        if operator == "regex":
            _check_pattern(value)
        if operator in NUMERIC and not _is_number(value):
            raise rule_error(error_codes.INVALID_FIELD, f"{operator} takes a finite number")
        if operator in SEMVER and not (isinstance(value, str) and semver_key(value) is not None):
            raise rule_error(error_codes.INVALID_FIELD, f"{value!r} is not a valid semver version")
        if operator in SEGMENT and not (isinstance(value, str) and KEY_PATTERN.fullmatch(value)):
            raise rule_error(error_codes.INVALID_FIELD, f"{operator} takes a segment key: {KEY_RULE}")
        return value

    @model_validator(mode="after")
    def _attribute_unless_segment(self) -> Condition:
        if self.operator in SEGMENT and self.attribute is not None:
            raise rule_error(error_codes.INVALID_FIELD, f"{self.operator} takes no attribute: value names the segment")
        if self.operator not in SEGMENT and self.attribute is None:
            raise rule_error(error_codes.FIELD_REQUIRED, f"{self.operator} needs an attribute")
        return self


def _check_pattern(value: Any) -> None:
    if not isinstance(value, str):
        raise rule_error(error_codes.INVALID_FIELD, "regex takes a string")
    if len(value) > MAX_PATTERN_LENGTH:
        raise rule_error(error_codes.INVALID_FIELD, f"a pattern is at most {MAX_PATTERN_LENGTH} characters")
    try:
        regex(value)
    except re2.error as error:
        reason = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        raise rule_error(error_codes.INVALID_FIELD, f"{value!r} is not an RE2 regular expression: {reason}") from None


Conditions = Annotated[list[Condition], Field(min_length=1, max_length=MAX_CONDITIONS)]


class Split(ApiModel):
    variant: VariantName
    weight: Annotated[int, Field(ge=0, le=ROLLOUT_TOTAL)]


# A percentage split: sticky per targetingKey, walked in the listed order (plugins.flags.evaluation).
Rollout = Annotated[list[Split], Field(min_length=1, max_length=MAX_VARIANTS), AfterValidator(_split_weights)]


class Rule(ApiModel):
    """When all its conditions hold, the flag serves `variant`, or splits by `rollout`."""

    name: Annotated[str, Field(max_length=100)] | None = None
    conditions: Conditions
    variant: VariantName | None = None
    rollout: Rollout | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> Rule:
        if (self.variant is None) == (self.rollout is None):
            raise rule_error(error_codes.INVALID_FIELD, "a rule serves exactly one of variant and rollout")
        return self


DEFAULT_BOOLEAN_VARIANTS: dict[str, JsonValue] = {"on": True, "off": False}
VALUE_TYPES: dict[str, tuple[str, Any]] = {
    "boolean": ("true or false", lambda value: type(value) is bool),
    "string": ("a string", lambda value: type(value) is str),
    "number": ("a finite number", _is_number),
    "object": ("an object", lambda value: type(value) is dict),
}


class FlagDefinition(ApiModel):
    """A custom flag: what it serves when off, when no rule matches, and when a rule does.

    A boolean flag may omit `variants` (`on`: true, `off`: false), `default_variant`
    (`on`) and `off_variant` (`off`); other types name their variants and default, and
    their `off_variant` defaults to the `default_variant`. After validation the three
    are always set.
    """

    error_codes = (error_codes.VALUE_TOO_LARGE,)

    key: Key
    type: FlagType = "boolean"
    display_name: Annotated[str, Field(max_length=200)] = ""
    description: Description = ""
    enabled: StrictBool = True  # "yes" or 1 is a 400, as for the declared flags' switch
    variants: (
        Annotated[
            dict[VariantName, Annotated[JsonValue, json_at_most(MAX_VARIANT_BYTES)]],
            Field(min_length=1, max_length=MAX_VARIANTS),
        ]
        | None
    ) = None
    default_variant: VariantName | None = None
    off_variant: VariantName | None = None
    rules: Annotated[list[Rule], Field(max_length=MAX_RULES)] = Field(default_factory=list)
    rollout: Rollout | None = None

    @model_validator(mode="after")
    def _variants_agree(self) -> FlagDefinition:
        boolean = self.type == "boolean"
        if self.variants is None:
            if not boolean:
                raise rule_error(error_codes.FIELD_REQUIRED, f"variants: a {self.type} flag names its variants")
            self.variants = dict(DEFAULT_BOOLEAN_VARIANTS)
        if self.default_variant is None:
            if not boolean:
                raise rule_error(error_codes.FIELD_REQUIRED, f"default_variant: a {self.type} flag names its default")
            self.default_variant = "on"
        if self.off_variant is None:
            self.off_variant = "off" if boolean else self.default_variant
        kind, fits = VALUE_TYPES[self.type]
        for name, value in self.variants.items():
            if not fits(value):
                raise rule_error(error_codes.INVALID_FIELD, f"variants.{name}: must be {kind} for a {self.type} flag")
        named = [("default_variant", self.default_variant), ("off_variant", self.off_variant)]
        for index, rule in enumerate(self.rules):
            named.append((f"rules.{index}.variant", rule.variant))
            named += _split_names(f"rules.{index}.rollout", rule.rollout)
        named += _split_names("rollout", self.rollout)
        for where, name in named:
            if name is not None and name not in self.variants:
                raise rule_error(error_codes.INVALID_FIELD, f"{where}: {name!r} is not a variant of this flag")
        return self


def _split_names(where: str, rollout: list[Split] | None) -> list[tuple[str, str]]:
    return [(f"{where}.{index}.variant", split.variant) for index, split in enumerate(rollout or ())]


class Segment(ApiModel):
    """A named group of contexts (all conditions hold), shared by flags through `in_segment`."""

    key: Key
    description: Description = ""
    conditions: Conditions

    @model_validator(mode="after")
    def _no_nested_segments(self) -> Segment:
        for index, condition in enumerate(self.conditions):
            if condition.operator in SEGMENT:
                raise rule_error(
                    error_codes.INVALID_FIELD, f"conditions.{index}.operator: a segment's conditions name no segment"
                )
        return self
