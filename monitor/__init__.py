"""The newsmon domain: articles, text normalisation, tagging, rules, alerts.

Pure functions and frozen data. Nothing here talks to Kafka, Faust or Prometheus;
time and I/O come in as parameters.
"""
