"""The campaign-to-recruit push: its rules, runs and history (all its SQL).

`models` holds the tables; `rules` adds, lists, enables and disables rules and checks
their field maps; `plan` works out who a run pushes or ignores; `runs` claims the one
run in progress and records each candidate's outcome; `tokens` keeps Zoho access tokens
so that every process reuses one until it expires.
"""
