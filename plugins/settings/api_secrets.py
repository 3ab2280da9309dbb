"""The five secret endpoints, shared by user secrets and system secrets.

Both APIs behave the same and differ only in whose secrets they reach (the caller's
own, or the tenant's system ones) and in who may call them, which each blueprint
checks for all its views. No endpoint ever returns a value.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, jsonify

from flux.db import db
from flux.errors import BadRequest
from flux.http import json_body
from plugins.settings import store
from plugins.settings.validation import checked_key, description, secret_value


def add_secret_routes(blueprint: Blueprint, rule: str, owner: Callable[[], str | None]) -> None:
    """Register create, list, get, update and delete under `rule` for the secrets of `owner()`."""

    def create_secret():
        body = json_body()
        row = store.create_secret(
            owner(), checked_key(body.get("key")), secret_value(body, required=True), description(body)
        )
        db.session.commit()
        return jsonify(row.secret_metadata()), 201

    def list_secrets():
        return jsonify([row.secret_metadata() for row in store.list_rows(owner(), secret=True)])

    def get_secret(key: str):
        return jsonify(store.get_secret(checked_key(key), owner()).secret_metadata())

    def update_secret(key: str):
        row = store.get_secret(checked_key(key), owner())
        body = json_body()
        plaintext, new_description = secret_value(body, required=False), description(body)
        if plaintext is None and new_description is None:
            raise BadRequest("give a new value, a new description, or both", code="NOTHING_TO_UPDATE")
        store.change_secret(row, plaintext, new_description)
        db.session.commit()
        return jsonify(row.secret_metadata())

    def delete_secret(key: str):
        store.delete(store.get_secret(checked_key(key), owner()))
        db.session.commit()
        return "", 204

    blueprint.add_url_rule(rule, view_func=create_secret, methods=["POST"])
    blueprint.add_url_rule(rule, view_func=list_secrets, methods=["GET"])
    blueprint.add_url_rule(f"{rule}/<path:key>", view_func=get_secret, methods=["GET"])
    blueprint.add_url_rule(f"{rule}/<path:key>", view_func=update_secret, methods=["PUT"])
    blueprint.add_url_rule(f"{rule}/<path:key>", view_func=delete_secret, methods=["DELETE"])
