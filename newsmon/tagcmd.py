"""``newsmon tag``: the streaming tagger's code, offline, one JSON line per article."""

from __future__ import annotations

import json
import sys
from itertools import islice
from pathlib import Path

from agents.settings import Settings
from monitor.tagging.model import model_for
from monitor.tagging.tagged_article import tag_analyzed
from monitor.tagging.tagger import Tagger
from monitor.tagging.taxonomy import load_taxonomy
from monitor.text.nlp import load_pipeline
from newsmon.sources import read_records

_BATCH = 64


def run_tag(settings: Settings, paths: list[str], *, ner: bool) -> int:
    """Tag every record; report bad ones on stderr; exit 1 if any was bad."""
    taxonomy = load_taxonomy(settings.taxonomy)
    tagger = Tagger(taxonomy, model_for(taxonomy, settings.topic_model))
    pipeline = load_pipeline(settings.spacy_model, ner=ner)
    bad = 0
    # Articles the stream would dead-letter for their size are refused here too.
    records = read_records([Path(p) for p in paths], settings.max_article_bytes)
    while batch := list(islice(records, _BATCH)):
        for record in batch:
            if record.article is None:
                bad += 1
                print(f"{record.origin}: {record.problem}", file=sys.stderr)
        articles = [r.article for r in batch if r.article is not None]
        for analyzed in pipeline.analyze(articles):
            record_json = tag_analyzed(analyzed, tagger).to_json(with_article=False)
            sys.stdout.write(json.dumps(record_json, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 1 if bad else 0
