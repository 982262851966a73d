"""YAML definition files that remember where every value came from.

Mappings load as :class:`Located` dicts and sequences as :class:`LocatedList`s that keep
the line and column of each value, so a refused taxonomy or rule file can name the
exact place of the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from monitor.errors import DefinitionError, Location


class Located(dict[str, Any]):
    """A mapping from a YAML file, with the position of each value and of itself."""

    path: str = "<string>"
    lines: tuple[str, ...] = ()
    positions: dict[str, tuple[int, int]]
    position: tuple[int, int] = (1, 1)

    def where(self, key: str | None = None) -> Location:
        line, column = self.positions.get(key, self.position) if key else self.position
        return Location(self.path, line, column)

    def source_line(self, key: str | None = None) -> str:
        line = self.where(key).line
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""


class LocatedList(list[Any]):
    """A sequence from a YAML file, with the position of each item."""

    path: str = "<string>"
    positions: list[tuple[int, int]]

    def where(self, index: int) -> Location:
        line, column = self.positions[index]
        return Location(self.path, line, column)


class _Loader(yaml.SafeLoader):
    path = "<string>"
    lines: tuple[str, ...] = ()


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Located:
    mapping = Located()
    mapping.path, mapping.lines = loader.path, loader.lines
    mapping.positions = {}
    mapping.position = (node.start_mark.line + 1, node.start_mark.column + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            mark = key_node.start_mark
            raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.positions[key] = (value_node.start_mark.line + 1, value_node.start_mark.column + 1)
    return mapping


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    items = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    items.path = loader.path
    items.positions = [(c.start_mark.line + 1, c.start_mark.column + 1) for c in node.value]
    return items


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, path: str, error: type[DefinitionError]) -> Any:
    """Parse YAML text; syntax errors become ``error`` with the file, line and column."""
    lines = tuple(text.splitlines())
    try:
        loader = _Loader(text)  # refuses a character YAML does not allow, by its position
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        problem = f"character {exc.character:#06x} is not allowed in YAML"
        raise error(Location(path, line, column), problem, source) from exc
    loader.path, loader.lines = path, lines
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        raise error(Location(path, line, column), str(exc.problem or exc), source) from exc
    except yaml.YAMLError as exc:
        raise error(Location(path, 1, 1), str(exc)) from exc
    finally:
        loader.dispose()


def load_yaml_file(path: Path, error: type[DefinitionError]) -> Any:
    """Read and parse a YAML definition file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(Location(str(path), 1, 1), f"cannot read: {exc}") from exc
    return load_yaml(text, str(path), error)
