"""Topic tagging: the taxonomy, the tagger, its learned second stage, the tagged record.

Second in the data flow: an analysed article gets its topics
(:mod:`monitor.tagging.tagger`, calibrated by :mod:`monitor.tagging.model`) and becomes the
:class:`~monitor.tagging.tagged_article.TaggedArticle` published on ``news.tagged``.
"""
