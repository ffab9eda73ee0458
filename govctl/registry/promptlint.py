"""The prompt lint: variables used vs declared, unbalanced braces, a length budget, secrets
and personal data in templates.

Kept free of pydantic models so the ``govctl-prompt-lint`` hook starts fast: a prompt file
whose shape is plainly valid is linted straight from its YAML; anything else goes through
:class:`govctl.prompts.PromptSpec`, which says exactly what is wrong (or accepts it, and
then the lint runs on the validated values). Either way the findings are the same.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from govctl.documents import DocumentError, Problem, line_of, parse_yaml, read_text
from govctl.errors import InputError
from govctl.patterns import PII_PATTERNS, SECRET_PATTERNS

VAR_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
DEFAULT_MAX_CHARS = 4000
# PromptSpec's fields (a test keeps the two in step)
FIELDS = frozenset({"name", "template", "description", "owner", "variables",
                    "model_parameters", "max_chars"})


def lint_template(template: str, variables: list[str], max_chars: int, source: str,
                  template_line: int | None = None) -> list[Problem]:
    """Lint one template against its declared variables and length budget."""
    out: list[Problem] = []
    t = template
    base = (template_line + 1) if template_line else None  # block scalars start a line below

    def at(offset: int) -> int | None:
        return base + t.count("\n", 0, offset) if base else None

    used = {m.group(1): m.start() for m in VAR_RE.finditer(t)}
    for var, pos in used.items():
        if var not in variables:
            out.append(Problem(source, at(pos), "template",
                               f"prompt-undeclared-variable: {{{{{var}}}}} is used but not "
                               "declared in 'variables'"))
    for var in variables:
        if var not in used:
            out.append(Problem(source, template_line, "variables",
                               f"prompt-unused-variable: {var!r} is declared but never used"))
    stripped = VAR_RE.sub("", t)
    for m in re.finditer(r"\{\{|\}\}", stripped):
        out.append(Problem(source, None, "template",
                           f"prompt-unbalanced-braces: stray {m.group(0)!r} (placeholders are "
                           "{{name}})"))
        break
    if len(t) > max_chars:
        out.append(Problem(source, template_line, "template",
                           f"prompt-too-long: {len(t)} characters, budget {max_chars}"))
    for rule, pattern in SECRET_PATTERNS:
        for m in pattern.finditer(t):
            out.append(Problem(source, at(m.start()), "template",
                               f"prompt-secret: looks like a {rule}; secrets never go in prompts"))
    for rule, pattern in PII_PATTERNS:
        for m in pattern.finditer(t):
            out.append(Problem(source, at(m.start()), "template",
                               f"prompt-pii: contains an {rule} address/number "
                               f"({m.group(0)[:3]}...)"))
    return out


def _plainly_valid(data: Any, stem: str) -> bool:
    """True only for documents PromptSpec accepts unchanged (a strict subset of them)."""
    if not isinstance(data, dict) or not set(data) <= FIELDS:
        return False
    name, template = data.get("name"), data.get("template")
    variables = data.get("variables", [])
    max_chars = data.get("max_chars", DEFAULT_MAX_CHARS)
    return (isinstance(name, str) and bool(NAME_RE.match(name)) and name == stem
            and isinstance(template, str) and bool(template)
            and isinstance(variables, list) and all(isinstance(v, str) for v in variables)
            and type(max_chars) is int and max_chars >= 1
            and all(isinstance(data.get(k), (str, type(None))) for k in ("description", "owner"))
            and isinstance(data.get("model_parameters", {}), dict))


def lint_file(path: Path, source: str | None = None) -> list[Problem]:
    """Lint a ``registry/prompts/NAME.yaml`` file; a file that is not a valid prompt raises
    :class:`InputError` naming the file, line and field."""
    source = source or str(path)
    data, node = parse_yaml(read_text(path, source), source)
    if _plainly_valid(data, Path(path).stem):
        template = data["template"]
        variables = data.get("variables", [])
        max_chars = data.get("max_chars", DEFAULT_MAX_CHARS)
    else:
        from govctl.registry.prompt_specs import spec_from_data

        spec = spec_from_data(data, source, node, Path(path).stem)
        template, variables, max_chars = spec.template, spec.variables, spec.max_chars
    return lint_template(template, variables, max_chars, source, line_of(node, ("template",)))


def lint_files(paths: list[Path]) -> list[Problem]:
    """Lint each file; one that is not a valid prompt contributes its own problems (file,
    line, field) and the others are still linted."""
    problems: list[Problem] = []
    for f in paths:
        try:
            problems += lint_file(f, str(f))
        except DocumentError as exc:
            problems += exc.problems
        except InputError as exc:
            problems.append(Problem(str(f), None, "", exc.message))
    return problems
