"""An example plugin: a scope, a config default, a CLI command and a documented route.

`docs/plugins.md` shows this file; `tests/test_example_plugin.py` loads it and proves
each part works. Install it as in "Package and install it", or name it in
`FLUXBASE_PLUGINS` when it is on the import path.
"""

from __future__ import annotations

import click
from flask import current_app

from flux.api import ADMIN_ROLES, ApiBlueprint, ApiModel, Tag, answer, hookimpl, pass_app, require

hello = ApiBlueprint("hello", __name__, url_prefix="/api/v1/hello", abp_tags=[Tag(name="hello")])


class GreetingPath(ApiModel):
    name: str


class Greeting(ApiModel):
    greeting: str


def greet(greeting: str, name: str) -> Greeting:
    return Greeting(greeting=f"{greeting}, {name}!")


@hello.get("/<name>", responses={200: Greeting})
@require(*ADMIN_ROLES, scope="hello:read")
def say_hello(path: GreetingPath):
    """Greet `name` with the configured greeting."""
    return answer(greet(current_app.config["HELLO_GREETING"], path.name))


@hookimpl
def register_blueprints(app):
    return [hello]


@hookimpl
def register_scopes():
    return {"hello:read": "be greeted"}


@hookimpl
def register_config_defaults():
    return {"HELLO_GREETING": "Hello"}  # FLUXBASE_HELLO_GREETING=Bonjour changes it


@hookimpl
def register_commands(cli):
    @cli.command("hello")
    @click.argument("name")
    @pass_app
    def hello_command(app, name: str) -> None:
        """Print the greeting the API would answer."""
        click.echo(greet(app.config["HELLO_GREETING"], name).greeting)
