"""The functions plugin's request and answer bodies: names, code size, limits, permissions and env.

A definition takes our field names and the reference SDK's (`timeout_seconds`,
`memory_limit_mb`, `allow_net`…); one field given under both names is refused, as
neither could be said to win. Limits that the server's configuration sets (longest
timeout, most memory) are checked against it when a request is read.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from flask import current_app
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    StrictInt,
    model_validator,
)

from flux.api import ApiModel, Description, Page, Timestamp, VersionInPath, error_codes, rule_error
from plugins.functions import directives
from plugins.functions.directives import ANNOTATION_INVALID, AnnotationError
from plugins.functions.models import MAX_MODULE_PATH_LENGTH, MAX_NAME_LENGTH
from plugins.functions.runtime.base import Permissions

OWNER = "functions"
CODE_INVALID = error_codes.register(
    "CODE_INVALID", 400, "The function's code does not compile or type-check; the message quotes the compiler.", OWNER
)
CODE_TOO_LARGE = error_codes.register("CODE_TOO_LARGE", 413, "The function's code is larger than 1 MB.", OWNER)
FUNCTION_DISABLED = error_codes.register(
    "FUNCTION_DISABLED", 403, "The function is turned off; enable it to call it again.", OWNER
)
IMPORT_BLOCKED = error_codes.register(
    "IMPORT_BLOCKED",
    400,
    "The code, a shared module or a package it imports uses child_process, vm, fs or process; the message names it.",
    OWNER,
)
BUNDLE_FAILED = error_codes.register(
    "BUNDLE_FAILED",
    500,
    "The function could not be bundled when it was saved; the message names why. Save it again.",
    OWNER,
)
FOLDER_UNAVAILABLE = error_codes.register(
    "FUNCTIONS_FOLDER_UNAVAILABLE",
    409,
    "No functions folder is set (FLUXBASE_FUNCTIONS_FUNCTIONS_DIR), or it cannot be read; the message says which.",
    OWNER,
)
SANDBOX_UNAVAILABLE = error_codes.register(
    "SANDBOX_UNAVAILABLE", 503, "The server cannot run or check code confined: a sandbox tool is missing.", OWNER
)

NAME = re.compile(rf"[a-zA-Z0-9_-]{{1,{MAX_NAME_LENGTH}}}")
RESERVED_NAME = "shared"
# `_shared/` (optional in a path: `cors.ts` is `_shared/cors.ts`), folders, a file name with a module's extension;
# no segment starts with a dot, so none is `.` or `..`.
SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9_.-]*"
MODULE_PATH = re.compile(rf"(?:_shared/)?(?:{SEGMENT}/)*{SEGMENT}\.(?:ts|js|mts|mjs|tsx|jsx)")
MODULE_PATH_RULE = "a path such as _shared/cors.ts or _shared/utils/date.ts (.ts, .js, .mts, .mjs, .tsx or .jsx)"
# A directory function's own file, beside its entry: folders and a module file name (not the
# names the build folder gives the entry, the bundle and the import map, nor `_shared/`).
FILE_PATH = re.compile(rf"(?:{SEGMENT}/)*{SEGMENT}\.(?:ts|js|mts|mjs|tsx|jsx)")
BUILD_NAMES = ("function.ts", "bundle.js")
FILE_PATH_RULE = "a relative path such as helpers.ts or lib/types.ts (.ts, .js, .mts, .mjs, .tsx or .jsx)"
MAX_FILES = 100
NAME_RULE = f"1 to {MAX_NAME_LENGTH} letters, digits, '_' or '-'"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MAX_CODE_BYTES = 1024 * 1024
MAX_ENV_VARIABLES = 100
MAX_ENV_VALUE_BYTES = 32 * 1024
MIN_MEMORY_MB = 32
# The reference SDK's names for our fields, and for the keys of `permissions`.
ALIASES = {"timeout_seconds": "timeout", "memory_limit_mb": "memory"}
PERMISSION_ALIASES = {"allow_net": "net", "allow_env": "env", "allow_read": "read", "allow_write": "write"}


def _name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise rule_error(error_codes.INVALID_FIELD, f"must be {NAME_RULE}")
    return value


def _blank_is_absent(value: Any) -> Any:
    return value or None


def _source(value: str) -> str:
    """JavaScript or TypeScript source: not blank, at most 1 MB."""
    if not value.strip():
        raise rule_error(error_codes.FIELD_REQUIRED, "must hold JavaScript or TypeScript source")
    size = len(value.encode())
    if size > MAX_CODE_BYTES:
        raise rule_error(CODE_TOO_LARGE, f"is {size} bytes; at most {MAX_CODE_BYTES} (1 MB) are allowed")
    return value


def _code(value: str) -> str:
    """A function's source, whose `@fluxbase:` directives must read."""
    _source(value)
    try:
        directives.read(value)
    except AnnotationError as error:
        raise rule_error(ANNOTATION_INVALID, str(error)) from None
    return value


def _files(files: dict[str, str]) -> dict[str, str]:
    """A directory function's other files: paths it imports as `./path`, and their source (1 MB in all)."""
    for path, source in files.items():
        if len(path) > MAX_MODULE_PATH_LENGTH or not FILE_PATH.fullmatch(path) or path.startswith("_shared/"):
            raise rule_error(error_codes.INVALID_FIELD, f"{path[:64]!r} must be {FILE_PATH_RULE}, not under _shared/")
        if path in BUILD_NAMES or path.split("/")[0] in (*BUILD_NAMES, "import_map.json"):
            raise rule_error(error_codes.INVALID_FIELD, f"{path!r} is a name the server builds with; rename the file")
        if any(other.startswith(path + "/") for other in files):  # the build folder cannot hold both (was a 500)
            raise rule_error(error_codes.INVALID_FIELD, f"{path!r} is both a file and a folder; rename one")
        if not source.strip():
            raise rule_error(error_codes.FIELD_REQUIRED, f"{path!r} must hold JavaScript or TypeScript source")
    size = sum(len(source.encode()) for source in files.values())
    if size > MAX_CODE_BYTES:
        raise rule_error(CODE_TOO_LARGE, f"are {size} bytes; at most {MAX_CODE_BYTES} (1 MB) are allowed in all")
    return files


def _function_name(value: str) -> str:
    if value == RESERVED_NAME:
        message = f"{RESERVED_NAME!r} is reserved: /functions/shared are the shared modules"
        raise rule_error(error_codes.INVALID_FIELD, message)
    return value


def _module_path(value: str) -> str:
    stored = value if value.startswith("_shared/") else "_shared/" + value
    if len(stored) > MAX_MODULE_PATH_LENGTH or not MODULE_PATH.fullmatch(value):
        raise rule_error(error_codes.INVALID_FIELD, f"must be {MODULE_PATH_RULE}")
    return value


def _setting(parse: Any) -> AfterValidator:
    """A setting read as its `@fluxbase:` directive reads it, so the API and the code agree on what is valid."""

    def check(value: Any) -> Any:
        try:
            return parse(value)
        except ValueError as error:
            raise rule_error(error_codes.INVALID_FIELD, str(error)) from None

    return AfterValidator(check)


def _at_most(setting: str) -> Any:
    """A whole number no larger than the server's `setting`."""

    def check(value: int) -> int:
        highest = current_app.config[setting]
        if value > highest:
            raise rule_error(error_codes.INVALID_FIELD, f"must be at most {highest} on this server")
        return value

    return AfterValidator(check)


def _env(values: dict[str, str]) -> dict[str, str]:
    """The function's own variables; names under `FLUXBASE_` are the server's to set."""
    for name, text in values.items():
        if not ENV_NAME.fullmatch(name) or name.upper().startswith("FLUXBASE_"):
            raise rule_error(
                error_codes.INVALID_FIELD,
                f"name {name[:64]!r} is not allowed: use letters, digits and '_', "
                "not starting with a digit or FLUXBASE_",
            )
        if len(text.encode()) > MAX_ENV_VALUE_BYTES:
            raise rule_error(error_codes.VALUE_TOO_LARGE, f"{name!r} is larger than 32 KiB")
    return values


Name = Annotated[str, Field(json_schema_extra={"pattern": f"^{NAME.pattern}$"}), AfterValidator(_name)]
Namespace = Annotated[Name | None, BeforeValidator(_blank_is_absent)]
Code = Annotated[str, AfterValidator(_code)]
Timeout = Annotated[StrictInt, Field(ge=1, description="Seconds"), _at_most("FUNCTIONS_MAX_TIMEOUT_SECONDS")]
Memory = Annotated[StrictInt, Field(ge=MIN_MEMORY_MB, description="MB"), _at_most("FUNCTIONS_MAX_MEMORY_MB")]
Files = Annotated[dict[str, str], Field(max_length=MAX_FILES), AfterValidator(_files)]
Env = Annotated[dict[str, str], Field(max_length=MAX_ENV_VARIABLES), AfterValidator(_env)]
# Lists take an array or comma-separated text, as the directives and `FLUXBASE_CORS_*` do.
Listed = list[str] | str
Origins = Annotated[Listed, _setting(directives.origins), Field(description="`*` or scheme://host[:port]")]
Methods = Annotated[Listed, _setting(directives.methods)]
Headers = Annotated[Listed, _setting(directives.headers)]
MaxAge = Annotated[StrictInt, _setting(directives.max_age), Field(description="Seconds, 0 to 86400")]
RateLimit = Annotated[str, _setting(directives.rate_limit), Field(description="`N/min`, `N/hour` or `N/day`")]
NULL_CLEARS = " (null: no API value, the code's directive or the default applies)"


class FunctionPath(ApiModel):
    name: Name


class FunctionRollbackPath(FunctionPath):
    version: VersionInPath


class FunctionVersionNumber(ApiModel):
    """A version number read from a form (the dashboard's rollback)."""

    version: VersionInPath


def _reference(value: str) -> str:
    namespace, _, name = value.rpartition("/")
    for part in (namespace, name) if namespace else (name,):
        _name(part)
    return value


class FunctionInvokePath(ApiModel):
    """`name`, or `namespace/name` (seed 003: `client.functions.invoke("payment-service/process-payment")`)."""

    reference: Annotated[str, AfterValidator(_reference)]

    @property
    def name(self) -> str:
        return self.reference.rpartition("/")[2]

    @property
    def namespace(self) -> str | None:
        return self.reference.rpartition("/")[0] or None


class FunctionNamespaceQuery(ApiModel):
    namespace: Namespace = Field(None, description="The function's namespace; `default` when not given")


class FunctionListQuery(Page):
    namespace: Namespace = Field(None, description="Only this namespace's functions; all when not given")


class FunctionVersionListQuery(Page, FunctionNamespaceQuery):
    code: bool = Field(False, description="Include each version's code")


class FunctionExecutionListQuery(Page, FunctionNamespaceQuery):
    pass


class FunctionPermissions(ApiModel):
    """What a function may reach; keys left out keep their value (on create, the defaults)."""

    model_config = ConfigDict(extra="forbid")  # a permission we do not have must not pass for granted

    net: StrictBool = False
    env: StrictBool = False
    read: StrictBool = False
    write: StrictBool = False

    def over(self, current: Permissions) -> Permissions:
        return Permissions(**{**current.as_json(), **self.model_dump(exclude_unset=True)})


class FunctionChange(ApiModel):
    """`PUT /functions/<name>`: what is given changes, the rest stays; new code makes a new version."""

    error_codes = (CODE_TOO_LARGE, error_codes.VALUE_TOO_LARGE)

    code: Code | None = None
    files: Files | None = Field(
        None, description="A directory function's other files, by path; its code imports them as `./path`"
    )
    description: Description | None = None
    enabled: StrictBool | None = None
    timeout: Timeout | None = None
    memory: Memory | None = None
    env: Env | None = Field(None, description="Replaces every variable; values are write-only")
    permissions: FunctionPermissions | None = None
    allow_unauthenticated: StrictBool | None = Field(None, description="Callable without a credential" + NULL_CLEARS)
    is_public: StrictBool | None = Field(None, description="Listed to anyone" + NULL_CLEARS)
    cors_origins: Origins | None = Field(None, description="Origins allowed to call it from a browser" + NULL_CLEARS)
    cors_methods: Methods | None = Field(None, description="Methods a preflight allows" + NULL_CLEARS)
    cors_headers: Headers | None = Field(None, description="Request headers a preflight allows" + NULL_CLEARS)
    cors_credentials: StrictBool | None = Field(None, description="Cookies allowed cross-origin" + NULL_CLEARS)
    cors_max_age: MaxAge | None = Field(None, description="Seconds a preflight is cached" + NULL_CLEARS)
    rate_limit: RateLimit | None = Field(None, description="Calls per user or IP" + NULL_CLEARS)
    isolation: Literal["warm", "per-invocation"] | None = None
    timeout_seconds: Timeout | None = Field(None, description="The reference SDK's name for `timeout`")
    memory_limit_mb: Memory | None = Field(None, description="The reference SDK's name for `memory`")
    allow_net: StrictBool | None = Field(None, description="The reference SDK's name for `permissions.net`")
    allow_env: StrictBool | None = Field(None, description="The reference SDK's name for `permissions.env`")
    allow_read: StrictBool | None = Field(None, description="The reference SDK's name for `permissions.read`")
    allow_write: StrictBool | None = Field(None, description="The reference SDK's name for `permissions.write`")

    @model_validator(mode="after")
    def _reference_names(self) -> FunctionChange:
        given = self.model_fields_set
        for alias, name in ALIASES.items():
            if alias in given:
                if name in given:
                    raise rule_error(error_codes.INVALID_FIELD, f"give {name} or {alias}, not both")
                setattr(self, name, getattr(self, alias))
        flags = {name: getattr(self, alias) for alias, name in PERMISSION_ALIASES.items()}
        flags = {name: value for name, value in flags.items() if value is not None}
        if flags:
            listed = self.permissions.model_fields_set if self.permissions else set()
            for alias, name in PERMISSION_ALIASES.items():
                if name in flags and name in listed:
                    raise rule_error(error_codes.INVALID_FIELD, f"give permissions.{name} or {alias}, not both")
            given_flags = self.permissions.model_dump(exclude_unset=True) if self.permissions else {}
            self.permissions = FunctionPermissions(**given_flags, **flags)
        return self

    def settings(self, current: Permissions) -> dict[str, Any]:
        """The settings `store.create`/`store.update` apply (None: unchanged); `permissions` over `current`."""
        return {
            "description": (self.description or "") if "description" in self.model_fields_set else None,
            "enabled": self.enabled,
            "timeout": self.timeout,
            "memory": self.memory,
            "env": self.env,
            "permissions": self.permissions.over(current) if self.permissions else None,
            "explicit": self.explicit(),
        }

    def explicit(self) -> dict[str, Any]:
        """The directive-backed settings given: a value, or None to drop the API's value."""
        return {name: getattr(self, name) for name in directives.SETTINGS if name in self.model_fields_set}


class FunctionCreate(FunctionChange):
    name: Annotated[Name, AfterValidator(_function_name)]
    namespace: Namespace = Field(None, description="`default` when not given")
    code: Code


class PublicFunction(ApiModel):
    """What anyone may see of a public function: no code, no env."""

    id: str
    name: str
    namespace: str
    description: str
    version: int
    enabled: bool
    timeout: int = Field(validation_alias="timeout_seconds", description="Seconds")
    memory: int = Field(validation_alias="memory_mb", description="MB")
    permissions: dict[str, bool]
    allow_unauthenticated: bool
    is_public: bool
    cors_origins: list[str]
    cors_methods: list[str]
    cors_headers: list[str]
    cors_credentials: bool
    cors_max_age: int
    rate_limit: str | None
    settings_sources: dict[str, Literal["api", "annotation", "default"]] = Field(
        description="Where each of the settings above came from: the API, an `@fluxbase:` directive, or the default"
    )
    isolation: str
    created_by: str | None
    updated_by: str | None
    created_at: Timestamp
    updated_at: Timestamp


class ManagedFunction(PublicFunction):
    """What those who manage functions see besides: the names of its env, and how its code was bundled."""

    env: Annotated[list[str], AfterValidator(sorted)] = Field(description="Names only: values are write-only")
    is_bundled: bool = Field(description="Runs as one module with the shared modules it imports")
    bundle_error: str | None = Field(description="Why bundling failed; its invocations answer 500 until saved again")
    bundled_modules: dict[str, int] = Field(description="The shared modules in the bundle, with their versions")


class FunctionSummary(ManagedFunction):
    """A function in a list, for those who manage functions: its last status; no code (the function's GET has it)."""

    last_execution_status: str | None = None


class FunctionOut(ManagedFunction):
    """A function with its code, as a change answers it."""

    code: str
    files: dict[str, str] = Field(description="A directory function's other files, by path")


class FunctionDetail(FunctionOut):
    """`GET /functions/<name>` for those who manage functions."""

    last_execution_status: str | None = None


class AnyFunction(RootModel[FunctionDetail | PublicFunction]):
    """A function as its GET shows it: everything to those who manage functions, the public part to others."""


class FunctionVersionOut(ApiModel):
    version: int
    is_current: bool
    created_by: str | None
    created_at: Timestamp


class FunctionVersionWithCode(FunctionVersionOut):
    code: str
    files: dict[str, str]


class FunctionLogEntry(ApiModel):
    timestamp: str = Field(description="Empty for lines printed outside `console`")
    level: str
    message: str


class FunctionExecutionOut(ApiModel):
    id: str
    function_id: str
    function_name: str
    namespace: str
    version: int
    status: Literal["success", "error", "timeout"]
    status_code: int
    duration_ms: float
    error: str | None
    logs: list[FunctionLogEntry]
    logs_truncated: bool
    trigger: str
    user_id: str | None
    started_at: Timestamp
    completed_at: Timestamp


class FunctionLogLine(FunctionLogEntry):
    """A console line with the execution that printed it."""

    execution_id: str
    version: int


ModulePath = Annotated[
    str,
    Field(description=MODULE_PATH_RULE, json_schema_extra={"example": "_shared/cors.ts"}),
    AfterValidator(_module_path),
]
ModuleContent = Annotated[str, AfterValidator(_source)]


class SharedModulePath(ApiModel):
    module_path: ModulePath


class SharedModuleQuery(ApiModel):
    version: int | None = Field(None, ge=1, description="An earlier version's content; the current one if not given")


class SharedModuleCreate(ApiModel):
    module_path: ModulePath
    content: ModuleContent
    description: Description = ""


class SharedModuleChange(ApiModel):
    """What is given changes; new content is a new version (functions keep theirs until saved again)."""

    content: ModuleContent | None = None
    description: Description | None = None


class SharedModuleSummary(ApiModel):
    """A shared module in a list: no content (its GET has it)."""

    id: str
    module_path: str
    description: str
    version: int
    created_by: str | None
    updated_by: str | None
    created_at: Timestamp
    updated_at: Timestamp


class SharedModuleOut(SharedModuleSummary):
    content: str


class RebundleRequest(ApiModel):
    module_path: ModulePath | None = Field(
        None, description="Only the functions bundled with this module; all when not given"
    )


class RebundledFunction(ApiModel):
    name: str
    namespace: str
    version: int
    changed: bool = Field(description="Whether its bundle changed (a module it imports has a new version)")
    error: str | None = Field(None, description="Why its code no longer builds (it runs its last bundle meanwhile)")
    is_bundled: bool
    bundle_error: str | None
    bundled_modules: dict[str, int]


class RebundleAnswer(ApiModel):
    rebundled: list[RebundledFunction]


MAX_SYNCED_FUNCTIONS = 1000


class SyncedFunction(FunctionChange):
    """One function of a sync: its name and code, and any setting a create or update takes."""

    name: Annotated[Name, AfterValidator(_function_name)]
    code: Code


def _distinct_names(functions: list[SyncedFunction]) -> list[SyncedFunction]:
    seen: set[str] = set()
    for function in functions:
        if function.name in seen:
            raise rule_error(error_codes.INVALID_FIELD, f"names {function.name!r} twice")
        seen.add(function.name)
    return functions


class FunctionSync(ApiModel):
    """`POST /admin/functions/sync`: make the namespace hold these functions (seed 003's bulk deployment)."""

    namespace: Namespace = Field(None, description="`default` when not given")
    functions: Annotated[list[SyncedFunction], Field(max_length=MAX_SYNCED_FUNCTIONS), AfterValidator(_distinct_names)]
    delete_missing: StrictBool = Field(False, description="Delete the namespace's functions the list leaves out")
    dry_run: StrictBool = Field(False, description="Say what would change, and change nothing")


class SyncSummary(ApiModel):
    created: int
    updated: int
    deleted: int
    unchanged: int


class SyncDetails(ApiModel):
    created: list[str]
    updated: list[str]
    deleted: list[str]
    unchanged: list[str]


class FunctionSyncAnswer(ApiModel):
    namespace: str
    summary: SyncSummary
    details: SyncDetails
    dry_run: bool


class SharedModulesLoaded(ApiModel):
    created: list[str]
    updated: list[str]
    unchanged: list[str]


class FolderReloadAnswer(ApiModel):
    folder: str
    namespace: str
    summary: SyncSummary
    details: SyncDetails
    shared_modules: SharedModulesLoaded
    errors: dict[str, str] = Field(
        description="Functions (by name) and shared modules (by path) not loaded, and why: they stay as they were"
    )
    skipped: list[str] = Field(description="Entries of the folder that are not functions, and why")


class NamespaceList(ApiModel):
    namespaces: list[str]
