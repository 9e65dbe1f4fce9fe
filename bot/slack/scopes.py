"""What caretbot asks of Slack: the Web API methods it calls with their scopes, and the
events it listens to with their subscriptions. app.yaml must grant all of it (a test
checks), so a new call or listener starts here."""

from __future__ import annotations

# slack_sdk method name -> the bot scope it needs (None: the bot token is enough).
METHOD_SCOPES: dict[str, str | None] = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "reactions_add": "reactions:write",
    "users_info": "users:read",
    "users_lookupByEmail": "users:read.email",
    # A person named as typed (^assign @dana): looked up among the workspace's members.
    "users_list": "users:read",
    "conversations_open": "im:write",
    # The team is the channel's members: channels:read for a public channel, groups:read
    # (also granted) for a private one.
    "conversations_members": "channels:read",
    # chat.getPermalink needs no scope of its own; it comes with posting.
    "chat_getPermalink": "chat:write",
    "files_upload_v2": "files:write",
    # ^import, and images shared in a thread (sent as MMS through bot/slack/file_proxy):
    # files.info for a file Slack described only by its id; the download itself
    # (url_private_download with the bot token) needs files:read too.
    "files_info": "files:read",
    # MANAGER_GROUP: find the group by handle, then its members.
    "usergroups_list": "usergroups:read",
    "usergroups_users_list": "usergroups:read",
    # The App Home tab and the card's modal need no scope beyond the bot token.
    "views_publish": None,
    "views_open": None,
    # The workspace's URL, for links to threads.
    "auth_test": None,
}
# chat.postMessage with `username`/`icon_emoji` (the candidate's name on their texts).
CUSTOMIZE_SCOPE = "chat:write.customize"
SLASH_COMMAND_SCOPE = "commands"

# Event type the code listens to -> the subscriptions (and scopes) that deliver it.
EVENT_SUBSCRIPTIONS: dict[str, dict[str, str | None]] = {
    "message": {
        "message.channels": "channels:history",
        "message.groups": "groups:history",
        "message.im": "im:history",
    },
    # The App Home tab (features.app_home.home_tab_enabled); no scope of its own.
    "app_home_opened": {"app_home_opened": None},
}
