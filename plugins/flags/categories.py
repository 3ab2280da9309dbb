"""The seed's setting categories this plugin brings: `branding`, `email`, `webhooks`, `compliance`.

The core brings those it enforces itself (`authentication`, `security`, `tokens`).
Nothing here is a secret: an SMTP password or a webhook signing key is a system secret
(seed 001), and these settings name it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field

from flux.api import SettingsGroup, matching

COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
URL = re.compile(r"^https?://[^\s]{1,2000}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9_.-]{0,128}$")


Url = Annotated[str, Field(max_length=2000), matching(URL, "{value} is not an http(s) URL", blank=True)]
Color = Annotated[str, matching(COLOR, "{value} is not a colour like #0066CC")]
Email = Annotated[str, Field(max_length=320), matching(EMAIL, "{value} is not an e-mail address", blank=True)]
SecretName = Annotated[str, matching(SECRET_NAME, "{value} is not a system secret's name", blank=True)]
Text = Annotated[str, Field(max_length=200)]


class BrandingSettings(SettingsGroup):
    """How the tenant's sign-in pages and e-mails look."""

    logo_url: Url = ""
    favicon_url: Url = ""
    primary_color: Color = "#0066CC"
    secondary_color: Color = "#FFFFFF"
    company_name: Text = ""
    support_url: Url = ""


class EmailSettings(SettingsGroup):
    """Who the tenant's e-mails come from, and the SMTP server that sends them."""

    from_address: Email = ""
    from_name: Text = ""
    reply_to: Email = ""
    smtp_host: Annotated[str, Field(max_length=255)] = ""
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_username: Text = ""
    smtp_password_secret: SecretName = ""
    use_tls: bool = True


class WebhookSettings(SettingsGroup):
    """Where the tenant's events are posted, which ones, and how deliveries retry."""

    enabled: bool = False
    endpoints: Annotated[list[Url], Field(max_length=20)] = Field(default_factory=list)
    events: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=100)] = Field(default_factory=list)
    timeout_seconds: Annotated[int, Field(ge=1, le=60)] = 10
    max_retries: Annotated[int, Field(ge=0, le=10)] = 3
    signing_secret: SecretName = ""


ExportFormat = Literal["csv", "json"]


class ComplianceSettings(SettingsGroup):
    """How long records are kept, where data lives, and how audit logs are exported."""

    audit_retention_days: Annotated[int, Field(ge=1, le=3650)] = 365
    data_retention_days: Annotated[int, Field(ge=0, le=3650)] = 0
    gdpr_mode: bool = False
    data_region: Annotated[str, Field(max_length=64)] = ""
    export_formats: Annotated[list[ExportFormat], Field(max_length=2)] = Field(default_factory=lambda: ["csv", "json"])


CATEGORIES = {
    "branding": BrandingSettings,
    "email": EmailSettings,
    "webhooks": WebhookSettings,
    "compliance": ComplianceSettings,
}
