"""Text: articles, their normalised fields, spaCy analysis, entities, phrases, fingerprints.

The first step of the data flow: raw input becomes an :class:`~monitor.text.article.Article`,
then an :class:`~monitor.text.nlp.Analyzed` article with normalised words, entities and a
near-duplicate fingerprint. Nothing here knows about topics, rules or alerts.
"""
