"""Slack: the Bolt app and its listeners, Block Kit views, Slack imports, scopes.

`app` builds the Bolt app (the message listener, where a thread reply goes to the
bridge or the desk); `cards` renders the candidate card, inbound texts and notes;
`imports` runs `^import` uploads; `scopes` lists what caretbot asks of Slack.
"""
