"""Twilio: the inbound webhooks (texts and delivery statuses) and what its errors mean.

`webhooks` checks X-Twilio-Signature and hands texts and statuses to the bridge;
`twilio_errors` maps Twilio error codes to a recruiter's words and to what to do.
"""
