"""Slack's message text both ways: what a teammate wrote, as the candidate's phone should
show it, and outside text made safe to show in Slack.

Slack sends message text with `&`, `<` and `>` as entities and wraps links, mentions
and e-mails in angle brackets (`<https://x.co|our site>`, `<mailto:a@b.co|a@b.co>`,
`<@U123>`, `<!here>`); emoji are `:shortcodes:`, with `:skin-tone-N:` after one that has
tones ("Formatting text for app surfaces", api.slack.com). An SMS must carry what the
teammate saw, not the markup. This module is the one place that decodes it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime

NameOf = Callable[[str], "str | None"]

_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
# One scan, so nothing is decoded twice (`&amp;lt;` is the text `&lt;`, not `<`):
# a Slack control sequence, an entity, or an emoji shortcode (with its skin tone).
_TOKEN = re.compile(
    r"<(?P<target>[@#!][^<>|\s]+|[a-z][a-z0-9+.\-]*:[^<>|\s]+)(?:\|(?P<label>[^<>]*))?>"
    r"|&(?P<entity>amp|lt|gt);"
    r"|:(?P<emoji>[a-z0-9_+'\-]+):(?::skin-tone-(?P<tone>[2-6]):)?",
    re.IGNORECASE,
)
# Slack's skin-tone-2..6 are the Fitzpatrick modifiers U+1F3FB..U+1F3FF.
_TONES = {str(n): chr(0x1F3FB + n - 2) for n in range(2, 7)}
_ZWJ = "\u200d"
_VS16 = "\ufe0f"


def decode_entities(text: str) -> str:
    """`&amp;` `&lt;` `&gt;` (how Slack sends & < >) back to the characters, in one pass.

    Caret commands are parsed after this, so `^list add Nurses &amp; Aides` names the
    list "Nurses & Aides".
    """
    if "&" not in text:
        return text
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], text)


def escape(text: str) -> str:
    """Text from outside (a candidate's SMS, an imported name) made safe for Slack mrkdwn.

    Slack reads `<...>` as control sequences (`<!channel>` notifies everyone,
    `<https://evil.example|yourbank.com>` disguises a link) and `&` starts an entity;
    escaping exactly these three shows the text as it was written ("Formatting text
    for app surfaces: Escaping text", api.slack.com).
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@functools.cache
def _shortcodes() -> dict[str, str]:
    """Every name the `emoji` package knows (CLDR names and the GitHub/Slack aliases,
    `:+1:`, `:tada:`, `:slightly_smiling_face:`) -> the emoji."""
    import emoji  # here: the command parser, which imports this module, needs no table

    table: dict[str, str] = {}
    for char, data in emoji.EMOJI_DATA.items():
        for name in (data["en"], *data.get("alias", ())):
            key = name.strip(":")
            table.setdefault(key, char)
            table.setdefault(key.lower(), char)
    return table


def _is_emoji(text: str) -> bool:
    import emoji

    return text in emoji.EMOJI_DATA


def _base_emoji(name: str) -> str | None:
    table = _shortcodes()
    for key in (name, name.lower(), name.replace("-", "_").lower()):
        if key in table:
            return table[key]
    parts = name.lower().split("-")
    # Slack's flag-xx: a region's two letters as regional indicator symbols (Unicode's rule).
    if len(parts) == 2 and parts[0] == "flag" and re.fullmatch(r"[a-z]{2}", parts[1]):
        flag = "".join(chr(0x1F1E6 + ord(letter) - ord("a")) for letter in parts[1])
        return flag if _is_emoji(flag) else None
    # Slack's man-woman-boy: a ZWJ sequence of the parts, when Unicode has it.
    if len(parts) > 1 and all(part in table for part in parts):
        joined = _ZWJ.join(table[part] for part in parts)
        for candidate in (joined, joined.replace(_VS16, "")):
            if _is_emoji(candidate):
                return candidate
    return None


def shortcode_to_emoji(name: str, tone: str | None = None) -> str | None:
    """`+1` -> 👍, (`+1`, "3") -> 👍🏼, `skin-tone-4` -> 🏽; None for a name no table
    knows (a workspace's custom emoji), which is then texted as written."""
    if tone is None and name.startswith("skin-tone-") and name[-1:] in _TONES:
        return _TONES[name[-1]] if len(name) == len("skin-tone-2") else None
    base = _base_emoji(name)
    if base is None or tone is None:
        return base
    modifier = _TONES[tone]
    plain = base.replace(_VS16, "")
    first, _, rest = plain.partition(_ZWJ)
    for candidate in (plain + modifier, first + modifier + (_ZWJ + rest if rest else "")):
        if _is_emoji(candidate):
            return candidate
    return base  # an emoji without tones: the tone is dropped, as Slack shows it


def _mention(target: str, label: str | None, name_of: NameOf | None) -> str:
    if target.startswith("@"):
        user = target[1:]
        name = name_of(user) if name_of is not None else None
        return name or label or f"@{user}"
    if target.startswith("#"):
        return f"#{label}" if label else target
    # <!here>, <!channel>, <!subteam^S1|@team>, <!date^...|fallback>
    return label or f"@{target[1:].split('^')[0]}"


def _link(target: str, label: str | None) -> str:
    for scheme in ("mailto:", "tel:", "sms:"):
        if target.lower().startswith(scheme):
            return label or target[len(scheme) :]
    if label and label != target and label not in target:
        return f"{label} ({target})"
    return label or target


def slack_to_plain(text: str, *, name_of: NameOf | None = None, entities: bool = True) -> str:
    """What a teammate typed in Slack, as it should read in an SMS.

    Mentions become the person's name (`name_of(user_id)`: display name, else real
    name; the mention's label or `@U123` when it gives None), links their label and
    address, `:shortcodes:` the emoji (custom ones stay as written), entities the
    characters. `entities=False` for text already decoded (a parsed command's).
    """
    out: list[str] = []
    pos = 0
    while (match := _TOKEN.search(text, pos)) is not None:
        out.append(text[pos : match.start()])
        pos = match.end()
        if match.group("target"):
            target, label = decode_entities(match.group("target")), match.group("label")
            label = decode_entities(label) if label else None
            if target[0] in "@#!":
                out.append(_mention(target, label, name_of))
            else:
                out.append(_link(target, label))
        elif match.group("entity"):
            out.append(_ENTITIES[match.group("entity")] if entities else match.group())
        else:
            found = shortcode_to_emoji(match.group("emoji"), match.group("tone"))
            if found is None and match.group("tone"):
                out.append(match.group())  # a custom emoji with its tone, as written
            elif found is None:
                # Not an emoji: keep the first colon and read on from the next one, so
                # that `10:30:tada:` still finds :tada:.
                out.append(":")
                pos = match.start() + 1
            else:
                out.append(found)
    out.append(text[pos:])
    return "".join(out)


def slack_time(moment: datetime) -> str:
    """A time each reader sees in their own Slack time zone (UTC where it cannot render)."""
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"
