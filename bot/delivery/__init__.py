"""The delivery machinery: how stored work reaches Slack and Twilio.

`dispatcher` delivers outbox work (posts, texts, card updates), paced by `pacing`'s
token buckets and retried; `group_commit` stores inbound webhooks in shared
transactions; `workers` runs the dispatcher and the scheduler beside `serve`;
`clients` builds the Slack and Twilio clients from the settings.
"""
