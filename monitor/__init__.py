"""The newsmon domain, grouped as the data flows: text, tagging, rules, alerting.

- :mod:`monitor.text`: articles, normalised fields, spaCy analysis, entities, fingerprints;
- :mod:`monitor.tagging`: the taxonomy, the topic tagger and its model, the tagged record;
- :mod:`monitor.rules`: the watch-rule language, rule files, presearch and matching;
- :mod:`monitor.alerting`: candidate and alert records, once per story, silences.

Each subpackage imports only from those before it and from the shared modules here
(:mod:`monitor.errors`, :mod:`monitor.yamlfile`, :mod:`monitor.durations`). Pure
functions and frozen data: nothing here talks to Kafka, Faust or Prometheus; time and I/O
come in as parameters.
"""
