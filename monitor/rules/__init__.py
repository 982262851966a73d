"""Watch rules: the query language, rule files, the presearcher and matching, backtests.

Third in the data flow: a tagged article is matched against every deployed rule
(:meth:`monitor.rules.ruleset.RuleSet.match`); a match carries its evidence.
"""
