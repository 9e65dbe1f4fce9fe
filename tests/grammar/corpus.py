"""The command corpus: text as Slack sends it -> the JSON it parses to, or the error.

All of it is read at NOW in TZ: Monday 23 November 2026, 08:00 in New York.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
TZ = "America/New_York"

VALID: list[tuple[str, dict[str, Any]]] = [
    # assign / unassign: Slack mentions, with or without the display name
    ("^assign <@U123>", {"command": "assign", "users": ["U123"]}),
    ("^assign <@U123|dana> <@W456|lee>", {"command": "assign", "users": ["U123", "W456"]}),
    ("^assign <@U1>, <@U2>,<@U3>", {"command": "assign", "users": ["U1", "U2", "U3"]}),
    ("^assign <@U1> <@U1>", {"command": "assign", "users": ["U1"]}),
    ("  ^ Assign   <@U1>  ", {"command": "assign", "users": ["U1"]}),
    ("^ASSIGN <@U1>", {"command": "assign", "users": ["U1"]}),
    ("^unassign", {"command": "unassign", "users": []}),
    ("^unassign <@U9|sam>", {"command": "unassign", "users": ["U9"]}),
    # a person named as typed (the CLI, or not picked from Slack's @ list)
    ("^assign @dana", {"command": "assign", "users": ["@dana"]}),
    ("^assign @anaïs.lefèvre, <@U2>", {"command": "assign", "users": ["@anaïs.lefèvre", "U2"]}),
    ("^unassign @mary-jane @o'neil", {"command": "unassign", "users": ["@mary-jane", "@o'neil"]}),
    ("^invite @sam", {"command": "invite", "user": "@sam", "email": None}),
    (
        "^deliver @sam Interview Scheduled 4 stars Strong ICU background",
        {
            "command": "deliver",
            "user": "@sam",
            "status": "Interview Scheduled",
            "stars": 4,
            "summary": "Strong ICU background",
        },
    ),
    # no arguments
    ("^claim", {"command": "claim"}),
    ("^claim\n", {"command": "claim"}),
    ("^Unclaim", {"command": "unclaim"}),
    ("^scheduled", {"command": "scheduled"}),
    ("^close", {"command": "close"}),
    ("^open", {"command": "open"}),
    ("^read", {"command": "read"}),
    # at: the longest prefix that is a time is the time
    (
        "^at tomorrow 9am Are you free to talk?",
        {"command": "at", "send_at": "2026-11-24T14:00:00Z", "text": "Are you free to talk?"},
    ),
    ("^at 3pm Call me", {"command": "at", "send_at": "2026-11-23T20:00:00Z", "text": "Call me"}),
    (
        "^at 3:30pm tomorrow Still on?",
        {"command": "at", "send_at": "2026-11-24T20:30:00Z", "text": "Still on?"},
    ),
    ("^at monday 10:00 Hi", {"command": "at", "send_at": "2026-11-23T15:00:00Z", "text": "Hi"}),
    (
        "^at next monday 10:00 Hi",
        {"command": "at", "send_at": "2026-11-30T15:00:00Z", "text": "Hi"},
    ),
    (
        "^at dec 1 9am Welcome",
        {"command": "at", "send_at": "2026-12-01T14:00:00Z", "text": "Welcome"},
    ),
    (
        "^at 2026-12-01 09:00 Welcome",
        {"command": "at", "send_at": "2026-12-01T14:00:00Z", "text": "Welcome"},
    ),
    ("^at noon Lunch?", {"command": "at", "send_at": "2026-11-23T17:00:00Z", "text": "Lunch?"}),
    ("^at in 20 min ok", {"command": "at", "send_at": "2026-11-23T13:20:00Z", "text": "ok"}),
    ("^at in 2 hours ok", {"command": "at", "send_at": "2026-11-23T15:00:00Z", "text": "ok"}),
    (
        "^at +3d Any news?",
        {"command": "at", "send_at": "2026-11-26T13:00:00Z", "text": "Any news?"},
    ),
    ("^at 3pm: Call me", {"command": "at", "send_at": "2026-11-23T20:00:00Z", "text": "Call me"}),
    ("^at 3pm, Call me", {"command": "at", "send_at": "2026-11-23T20:00:00Z", "text": "Call me"}),
    ("^at 3pm - Call me", {"command": "at", "send_at": "2026-11-23T20:00:00Z", "text": "Call me"}),
    # a word that merely starts like a time word is text ("Monique", "Decide")
    (
        "^at 9am Monique here",
        {"command": "at", "send_at": "2026-11-23T14:00:00Z", "text": "Monique here"},
    ),
    (
        "^at 9am Decide soon",
        {"command": "at", "send_at": "2026-11-23T14:00:00Z", "text": "Decide soon"},
    ),
    # "may" needs a day number to be a month
    (
        "^at 9am may I call?",
        {"command": "at", "send_at": "2026-11-23T14:00:00Z", "text": "may I call?"},
    ),
    (
        "^at tomorrow 9am Line one\nLine two",
        {"command": "at", "send_at": "2026-11-24T14:00:00Z", "text": "Line one\nLine two"},
    ),
    # cancel
    ("^cancel", {"command": "cancel", "id": None}),
    ("^cancel 12", {"command": "cancel", "id": 12}),
    ("^cancel #12", {"command": "cancel", "id": 12}),
    # invite: mention, Slack's mailto link, or a raw address
    ("^invite <@U77|hm>", {"command": "invite", "user": "U77", "email": None}),
    (
        "^invite <mailto:sam@company.com|sam@company.com>",
        {"command": "invite", "user": None, "email": "sam@company.com"},
    ),
    (
        "^invite sam.o'neil+hm@company.co.uk",
        {"command": "invite", "user": None, "email": "sam.o'neil+hm@company.co.uk"},
    ),
    # deliver: status, then rating, then summary, each optional
    (
        "^deliver <@U5> Interview Scheduled 4 stars Strong ICU background",
        {
            "command": "deliver",
            "user": "U5",
            "status": "Interview Scheduled",
            "stars": 4,
            "summary": "Strong ICU background",
        },
    ),
    (
        "^deliver <@U5> not  eligible FOR hire",
        {
            "command": "deliver",
            "user": "U5",
            "status": "Not Eligible for Hire",
            "stars": None,
            "summary": None,
        },
    ),
    (
        "^deliver <@U5>",
        {"command": "deliver", "user": "U5", "status": None, "stars": None, "summary": None},
    ),
    (
        "^deliver <@U5> 5*",
        {"command": "deliver", "user": "U5", "status": None, "stars": 5, "summary": None},
    ),
    (
        "^deliver <@U5> 3/5 ok",
        {"command": "deliver", "user": "U5", "status": None, "stars": 3, "summary": "ok"},
    ),
    (
        "^deliver <@U5> 1 star",
        {"command": "deliver", "user": "U5", "status": None, "stars": 1, "summary": None},
    ),
    (
        "^deliver <@U5> ★★★★☆",
        {"command": "deliver", "user": "U5", "status": None, "stars": 4, "summary": None},
    ),
    (
        "^deliver <@U5> 3 years in ICU",
        {
            "command": "deliver",
            "user": "U5",
            "status": None,
            "stars": None,
            "summary": "3 years in ICU",
        },
    ),
    (
        "^deliver <@U5> Newcastle office",
        {
            "command": "deliver",
            "user": "U5",
            "status": None,
            "stars": None,
            "summary": "Newcastle office",
        },
    ),
    (
        "^deliver <@U5> Engaged great fit",
        {
            "command": "deliver",
            "user": "U5",
            "status": "Engaged",
            "stars": None,
            "summary": "great fit",
        },
    ),
    # opt-out / opt-in / note
    ("^opt-out asked by phone", {"command": "opt-out", "reason": "asked by phone"}),
    ("^OPT-IN opted out by mistake", {"command": "opt-in", "reason": "opted out by mistake"}),
    (
        "^note prefers nights\nfrom January",
        {"command": "note", "text": "prefers nights\nfrom January"},
    ),
    ("^note <@U1> knows her", {"command": "note", "text": "<@U1> knows her"}),
    # help
    ("^help", {"command": "help", "topic": None}),
    ("^help at", {"command": "help", "topic": "at"}),
    ("^help ^Claim", {"command": "help", "topic": "claim"}),
    ("^help list", {"command": "help", "topic": "list"}),
    ("^help list  remove", {"command": "help", "topic": "list remove"}),
    # issue 4: status and lists
    ("^status interview scheduled", {"command": "status", "status": "Interview Scheduled"}),
    ("^status NEW", {"command": "status", "status": "New"}),
    ("^list add Night nurses", {"command": "list add", "name": "Night nurses"}),
    ('^list add "Fall 2026"', {"command": "list add", "name": "Fall 2026"}),
    ("^list add “Fall 2026”", {"command": "list add", "name": "Fall 2026"}),
    ("^List Remove Night nurses", {"command": "list remove", "name": "Night nurses"}),
    ("^import", {"command": "import", "list_name": None}),
    ("^import Night nurses", {"command": "import", "list_name": "Night nurses"}),
]

# (text, 1-based column of the caret, a phrase of the expectation, the suggestion or None)
INVALID: list[tuple[str, int, str, str | None]] = [
    ("hello", 1, "^ and a command", None),
    ("   ", 4, "^ and a command", None),
    ("^", 2, "a command name", None),
    ("^ 42", 3, "a command name", None),
    ("^clam", 2, "a command name", "^claim"),
    ("^unasign <@U1>", 2, "a command name", "^unassign"),
    ("^optout spam", 2, "a command name", "^opt-out"),
    ("^sheduled", 2, "a command name", "^scheduled"),
    ("^xyzzy", 2, "a command name", None),
    ("^claim now", 8, "nothing more after ^claim", None),
    ("^assign", 8, "Slack @mention", None),
    ("^assign dana", 9, "Slack @mention", None),
    ("^assign <@U1> dana", 15, "Slack @mention", None),
    ("^assign @", 9, "Slack @mention", None),
    ("^assign @-dana", 9, "Slack @mention", None),
    ("^invite dana", 9, "e-mail address", None),
    ("^cancel soon", 9, "send id", None),
    ("^cancel 3 4", 11, "nothing after the send id", None),
    ("^cancel 99999999999999999999", 9, "send id from ^scheduled", None),
    ("^deliver", 9, "Slack @mention", None),
    ("^deliver <@U1> 9 stars", 16, "1 to 5 stars", None),
    ("^deliver <@U1> 0*", 16, "1 to 5 stars", None),
    ("^note", 6, "the note's text", None),
    ("^note   ", 6, "the note's text", None),
    ("^opt-out", 9, "a reason", None),
    ("^opt-in", 8, "a reason", None),
    ("^status", 8, "an apply status", None),
    ("^status hired", 9, "one of New, Engaged", None),
    ("^status interview", 9, "one of New, Engaged", "Interview Scheduled"),
    ("^list", 6, "add or remove", None),
    ("^list ad Night nurses", 7, "add or remove", "^list add"),
    ("^list add", 10, "the list's name", None),
    ('^list add ""', 11, "a list name", None),
    ("^list add Night\nnurses", 16, "on the command's line", None),
    ("^help clam", 7, "a command name", "^help claim"),
    # at: unparseable, incomplete, in the past
    ("^at", 4, "a time, then the text", None),
    ("^at tomorow 9am hi", 5, "a time: 3pm", "tomorrow"),
    ("^at tomorrow hi", 14, "a time of day", None),
    ("^at 10 hi", 8, "am or pm", None),
    ("^at Are you free?", 5, "a time: 3pm", None),
    ("^at 25pm hi", 5, "an hour 1-12", None),
    ("^at 9:75am hi", 5, "minutes 00-59", None),
    ("^at 24:00 hi", 5, "00:00-23:59", None),
    ("^at dec 32 9am hi", 9, "a day 1-31", None),
    ("^at feb 30 9am hi", 5, "a day of that month", None),
    ("^at 2026-13-01 09:00 hi", 5, "YYYY-MM-DD", None),
    ("^at 3pm", 8, "the text to send", None),
    ("^at 7am Good morning", 5, "a time after now", None),
    ("^at in 0 min hi", 5, "a time after now", None),
    ("^at 2028-01-01 09:00 hi", 5, "within a year", None),
    ("^at in 9999999 min hi", 8, "at most 999999", None),
]
