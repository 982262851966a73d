"""Alerting: stories, candidate and alert records, the once-per-story decision, silences.

Last in the data flow: every tagged article joins a story (:mod:`monitor.alerting.stories`);
a rule match becomes a candidate (``news.candidates``) carrying its story, is decided once
per rule and story (:mod:`monitor.alerting.once_per_story`), and is raised as an alert; a
story the rule alerted on that grows past a threshold raises a story update.
"""
