"""Render the settings reference (docs/settings.md) from the field descriptions."""

from __future__ import annotations

from infinstruct.core.settings import describe_fields


def render_settings_markdown() -> str:
    lines = [
        "# Settings reference",
        "",
        "Code: `infinstruct/core/settings.py` (the fields, their defaults and descriptions),",
        "`infinstruct/core/config_layers.py` (the config folders), `infinstruct/config/` (the packaged YAML).",
        "",
        "Generated from the field descriptions by `make docs`; `infinstruct config show --describe`",
        "prints the same. Environment variable: `INFINSTRUCT_` + the key upper-cased with `.` as `__`.",
        "",
        "| key | default | meaning |",
        "|---|---|---|",
    ]
    for row in describe_fields():
        default = row["default"].replace("|", "\\|")
        lines.append(f"| `{row['key']}` | {default} | {row['description'].replace('|', '/')} |")
    return "\n".join(lines) + "\n"
