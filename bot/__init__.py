"""caretbot's edge: Slack, Twilio, the command line, and what runs beside the server.

Top level: `server` (the Starlette app: /slack/events, /twilio/*, /healthz), `bridge`
(the SMS <-> Slack rules: where a text becomes a thread post and a thread reply becomes
a text), `settings` and `logs`. Packages by concern: `cli` (the command line), `desk`
(caret commands), `slack` (Bolt app, cards, Slack imports, scopes), `sms` (Twilio
webhooks and error meanings), `delivery` (outbox dispatcher, pacing, group commit,
workers, clients).
"""
