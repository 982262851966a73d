"""Alerting: candidate and alert records, the once-per-story decision, silences.

Last in the data flow: a rule match becomes a candidate (``news.candidates``), is decided
once per rule and story (:mod:`monitor.alerting.once_per_story`), and is raised as an alert.
"""
