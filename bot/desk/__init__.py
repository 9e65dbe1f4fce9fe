"""The conversation desk: caret commands typed in a candidate's thread.

`runner` takes a caret line from a Slack event to an answer (parse, resolve, run in one
transaction); `commands` says what each command does; `people` answers who is who in
Slack; `hooks` is what the desk does when the bridge stores a text or a reply.
"""
