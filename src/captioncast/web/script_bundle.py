"""ES modules joined into one classic script, so a page can load them with a plain
``<script src>`` and find globals; no build step, no JavaScript tooling on the server.

Each module becomes a function that returns its exports, in dependency order::

    const __cc_m1 = (() => {
      const { CaptionView } = __cc_m0;         // was: import { CaptionView } from './view.js';
      class CaptionOverlay { … }               // was: export class CaptionOverlay { … }
      return { CaptionOverlay };
    })();

and the entry module's exports become the globals asked for. Only the module syntax our
sources use is understood, and anything else is refused (:class:`BundleError`) rather than
bundled wrong: named imports and re-exports of relative paths (``import { a, b as c } from
'./x.js'``, ``export { a } from '../y.js'``, over several lines if need be), ``export`` before
a ``function``/``class``/``const``/``let`` declaration, and ``export { a, b as c };``.
Default exports, namespace imports, side-effect imports and ``import.meta`` are refused;
``import('…')`` expressions are left alone (classic scripts have them too).

Module ids are POSIX paths relative to one root (``web-client/src/index.js``); ``read`` turns
an id into source text and decides which ids exist.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

_NAME = r"[A-Za-z_$][\w$]*"
_FROM = r"\s*from\s*(['\"])([^'\"]+)\2[ \t]*;?[ \t]*$"
_IMPORT = re.compile(r"^import\s*\{([^}]*)\}" + _FROM, re.MULTILINE)
_REEXPORT = re.compile(r"^export\s*\{([^}]*)\}" + _FROM, re.MULTILINE)
_EXPORT_LIST = re.compile(r"^export\s*\{([^}]*)\}[ \t]*;?[ \t]*$", re.MULTILINE)
_EXPORT_DECLARATION = re.compile(
    rf"^export\s+((?:async\s+)?function\*?\s*|class\s+|const\s+|let\s+|var\s+)({_NAME})",
    re.MULTILINE,
)
_LEFTOVER = re.compile(r"^(?:import(?!\s*\()|export)\b.*$|\bimport\.meta\b", re.MULTILINE)
_SPECIFIER = re.compile(rf"^({_NAME})(?:\s+as\s+({_NAME}))?$")


class BundleError(ValueError):
    """The sources use module syntax the bundler does not handle, or an import is missing."""


@dataclass
class _Module:
    id: str
    body: str
    imports: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    # (exported name, the module it comes from or None for this one, the name there)
    exports: list[tuple[str, str | None, str]] = field(default_factory=list)


def bundle(
    read: Callable[[str], str],
    entry: str,
    globals_: Mapping[str, str | None],
    banner: str = "",
) -> str:
    """One classic script running ``entry`` and its imports.

    ``globals_`` maps each global to define to the entry's export it holds, or to None for
    an object holding all of them (``{"captioncast": None, "NanoMessenger": "NanoMessenger"}``).
    """
    order = _load_in_order(read, entry)
    variables = {module.id: f"__cc_m{i}" for i, module in enumerate(order)}
    parts = [banner.rstrip() + "\n" if banner else "", "(function (global) {\n'use strict';\n"]
    for module in order:
        parts.append(_wrap(module, variables))
    exported = {name for name, _, _ in order[-1].exports}
    entry_var = variables[order[-1].id]
    for name, export in globals_.items():
        if export is None:
            parts.append(f"global[{json.dumps(name)}] = Object.freeze({{ ...{entry_var} }});\n")
        elif export in exported:
            parts.append(f"global[{json.dumps(name)}] = {entry_var}[{json.dumps(export)}];\n")
        else:
            raise BundleError(f"{entry} does not export {export}")
    parts.append("})(typeof globalThis !== 'undefined' ? globalThis : self);\n")
    return "".join(parts)


def _load_in_order(read: Callable[[str], str], entry: str) -> list[_Module]:
    """Every module reachable from ``entry``, each after the modules it imports."""
    done: dict[str, _Module] = {}
    visiting: list[str] = []

    def visit(module_id: str) -> None:
        if module_id in done:
            return
        if module_id in visiting:
            raise BundleError(f"import cycle: {' -> '.join([*visiting, module_id])}")
        visiting.append(module_id)
        module = parse_module(module_id, read(module_id))
        for dependency, _ in module.imports:
            visit(dependency)
        visiting.pop()
        done[module_id] = module

    visit(entry)
    return list(done.values())


def parse_module(module_id: str, source: str) -> _Module:
    """The imports, exports and remaining body of one ES module."""
    module = _Module(module_id, source)

    def imported(match: re.Match[str]) -> str:
        dependency = _resolve(module_id, match.group(3))
        module.imports.append((dependency, _specifiers(match.group(1), module_id)))
        return ""

    def reexported(match: re.Match[str]) -> str:
        dependency = _resolve(module_id, match.group(3))
        names = _specifiers(match.group(1), module_id)
        module.imports.append((dependency, []))
        module.exports += [(alias, dependency, name) for name, alias in names]
        return ""

    def export_list(match: re.Match[str]) -> str:
        names = _specifiers(match.group(1), module_id)
        module.exports += [(alias, None, name) for name, alias in names]
        return ""

    def declaration(match: re.Match[str]) -> str:
        module.exports.append((match.group(2), None, match.group(2)))
        return match.group(1) + match.group(2)

    body = _IMPORT.sub(imported, source)
    body = _REEXPORT.sub(reexported, body)
    body = _EXPORT_LIST.sub(export_list, body)
    body = _EXPORT_DECLARATION.sub(declaration, body)
    if leftover := _LEFTOVER.search(body):
        raise BundleError(f"{module_id}: unsupported module syntax: {leftover.group(0)[:60]!r}")
    module.body = body
    return module


def _wrap(module: _Module, variables: Mapping[str, str]) -> str:
    lines = [f"// {module.id}", f"const {variables[module.id]} = (() => {{"]
    for dependency, names in module.imports:
        if names:
            bindings = ", ".join(n if n == alias else f"{n}: {alias}" for n, alias in names)
            lines.append(f"const {{ {bindings} }} = {variables[dependency]};")
    lines.append(module.body.strip("\n"))
    members = []
    for exported, source, name in module.exports:
        expression = name if source is None else f"{variables[source]}.{name}"
        members.append(exported if exported == expression else f"{exported}: {expression}")
    lines.append(f"return {{ {', '.join(members)} }};")
    lines.append("})();\n")
    return "\n".join(lines)


def _specifiers(text: str, module_id: str) -> list[tuple[str, str]]:
    """``a, b as c`` → ``[("a", "a"), ("b", "c")]``."""
    names = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        match = _SPECIFIER.match(part)
        if match is None:
            raise BundleError(f"{module_id}: cannot bundle the import or export {part!r}")
        names.append((match.group(1), match.group(2) or match.group(1)))
    return names


def _resolve(module_id: str, specifier: str) -> str:
    """The id of a relative import (``./x.js`` next to ``module_id``)."""
    if not specifier.startswith(("./", "../")):
        raise BundleError(f"{module_id}: only relative imports can be bundled: {specifier!r}")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(module_id), specifier))
    if resolved.startswith("../") or resolved == "..":
        raise BundleError(f"{module_id}: {specifier!r} is outside the bundle's root")
    return resolved
