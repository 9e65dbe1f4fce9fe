"""Slack's Block Kit limits, as the Web API enforces them on chat.postMessage,
chat.update, views.publish, views.open and views.update.

Slack answers a payload that breaks them with HTTP 200, ``{"ok": false, "error":
"invalid_blocks", "errors": [...], "response_metadata": {"messages": [...]}}`` (views
answer ``invalid_arguments`` for a bad view, ``invalid_blocks`` for bad blocks). The
limits are from https://api.slack.com/reference/block-kit/blocks and
https://api.slack.com/reference/block-kit/block-elements: at most 50 blocks in a message
and 100 in a modal or Home tab; a section's text 3,000 characters, its fields 10 of
2,000; a header 150; a button's text 75; action_id and block_id 255; an actions block 25
elements; a context block 10; every interactive element has an action_id, unique within
its block; block_ids unique within the message or view.
"""

from __future__ import annotations

from typing import Any

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
INTERACTIVE = frozenset(
    {
        "button",
        "checkboxes",
        "datepicker",
        "datetimepicker",
        "timepicker",
        "overflow",
        "radio_buttons",
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
        "multi_external_select",
        "plain_text_input",
        "number_input",
        "email_text_input",
        "url_text_input",
    }
)
TEXT_LIMITS = {"section": 3000, "header": 150}


def block_errors(blocks: Any, *, limit: int) -> list[str]:
    """What is wrong with `blocks` by Slack's rules, as Slack words it; [] when valid."""
    if not isinstance(blocks, list):
        return ["blocks must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"must contain at most {limit} items [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"/blocks/{index}"
        if not isinstance(block, dict) or not block.get("type"):
            errors.append(f"missing required field: type [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > 255:
                errors.append(f"must be less than 256 characters [json-pointer:{where}/block_id]")
            if block_id in block_ids:
                errors.append(f"duplicate block_id [json-pointer:{where}/block_id]")
            block_ids.add(block_id)
        errors += _block(block, where)
    return errors


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def _block(block: dict[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    kind = block["type"]
    limit = TEXT_LIMITS.get(kind)
    if limit is not None and _text_len(block.get("text")) > limit:
        errors.append(f"must be less than {limit + 1} characters [json-pointer:{where}/text/text]")
    if kind == "section":
        fields = block.get("fields") or []
        if len(fields) > 10:
            errors.append(f"must contain at most 10 items [json-pointer:{where}/fields]")
        for number, field in enumerate(fields):
            if _text_len(field) > 2000:
                errors.append(
                    f"must be less than 2001 characters [json-pointer:{where}/fields/{number}/text]"
                )
        if not block.get("text") and not fields:
            errors.append(f"must provide text or fields [json-pointer:{where}]")
    elements: list[Any] = []
    if kind == "actions":
        elements = block.get("elements") or []
        if len(elements) > 25:
            errors.append(f"must contain at most 25 items [json-pointer:{where}/elements]")
    elif kind == "context":
        if len(block.get("elements") or []) > 10:
            errors.append(f"must contain at most 10 items [json-pointer:{where}/elements]")
    elif kind in ("section", "input") and isinstance(
        block.get("accessory" if kind == "section" else "element"), dict
    ):
        key = "accessory" if kind == "section" else "element"
        elements = [block[key]]
        where = f"{where}/{key}"
    action_ids: set[str] = set()
    for number, element in enumerate(elements):
        spot = f"{where}/elements/{number}" if kind == "actions" else where
        if not isinstance(element, dict) or element.get("type") not in INTERACTIVE:
            continue
        action_id = element.get("action_id")
        if not action_id:
            errors.append(f"missing required field: action_id [json-pointer:{spot}]")
            continue
        if len(str(action_id)) > 255:
            errors.append(f"must be less than 256 characters [json-pointer:{spot}/action_id]")
        if action_id in action_ids:
            errors.append(f"duplicate action_id [json-pointer:{spot}/action_id]")
        action_ids.add(action_id)
        if element["type"] == "button" and _text_len(element.get("text")) > 75:
            errors.append(f"must be less than 76 characters [json-pointer:{spot}/text/text]")
    return errors
