"""The flags plugin's own hook, added to the manager through `register_hookspecs`.

Only this plugin calls it; a plugin that declares flags and should also load without
the flags plugin marks its implementation `@hookimpl(optionalhook=True)`.
"""

from __future__ import annotations

from flux.api import hookspec


@hookspec
def register_feature_flags():
    """Return `plugins.flags.declared.FeatureFlag` records: the switches this plugin's code reads.

    Called once per app by the flags plugin. Each flag is on or off per tenant
    (`PUT /api/v1/admin/settings/feature-flags/{key}`), starting from its `enabled`
    default; it is listed by `GET …/feature-flags` and evaluated through OFREP like a
    custom flag. A key another plugin declares stops start-up.
    Example: `return [FeatureFlag("notes_sharing", "Note sharing", "Share notes by link", "notes")]`.
    """
