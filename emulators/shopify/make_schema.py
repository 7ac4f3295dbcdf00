"""Extract the emulator's schema: the part of Shopify's Admin API schema the project's documents touch.

    python -m emulators.shopify.make_schema tests/reference/shopify/admin-2026-10.schema.graphql

The reference schema (Shopify's own Admin API schema of the pinned version, 3.6 MB) is not shipped
with the package; the emulator runs on this
subset instead, so that the `--sandbox` demo works anywhere. The subset keeps, for every type a document
reaches, exactly the fields selected, each with all its real arguments (and their input and enum types
complete), so that a document the emulator accepts is one Shopify accepts; `tests/test_shopify_schema.py`
checks the committed file against the reference field by field.
"""

from __future__ import annotations

import sys
from pathlib import Path

from graphql import (GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType,
                     GraphQLScalarType, GraphQLSchema, GraphQLUnionType, TypeInfo, TypeInfoVisitor, Visitor,
                     ast_from_value, build_schema, get_named_type, parse, print_ast, visit)
from graphql.type import is_specified_scalar_type

OUT = Path(__file__).with_name("schema.graphql")
# The version the subset is taken from: the one the fetcher pins (sync/config.py's default).
SCHEMA_VERSION = "2026-10"
# Documents the emulator must understand beyond the fetcher's (none today).
EXTRA_DOCUMENTS: list[str] = []


def project_documents() -> list[str]:
    from sync.platforms.shopify import queries

    docs = list(queries.DOCUMENTS.values())
    for bulk in queries.BULK_QUERIES.values():
        docs += [bulk.render(None), bulk.render("updated_at:>='2024-01-01T00:00:00Z'")]
    return docs + EXTRA_DOCUMENTS


def _collect(schema: GraphQLSchema, documents: list[str]) -> dict[str, set[str]]:
    """type name -> names of the fields selected on it."""
    used: dict[str, set[str]] = {}
    info = TypeInfo(schema)

    class Collector(Visitor):
        def enter_field(self, node, *_):
            parent = info.get_parent_type()
            if parent is not None and not node.name.value.startswith("__"):
                used.setdefault(parent.name, set()).add(node.name.value)

        def enter_inline_fragment(self, node, *_):
            if node.type_condition:
                used.setdefault(node.type_condition.name.value, set())

    for doc in documents:
        visit(parse(doc), TypeInfoVisitor(info, Collector()))
    return used


def _arg_sdl(name: str, arg) -> str:
    text = f"{name}: {arg.type}"
    if arg.default_value is not None and repr(arg.default_value) != "Undefined":
        value = ast_from_value(arg.default_value, arg.type)
        if value is not None:
            text += f" = {print_ast(value)}"
    return text


def subset_sdl(schema: GraphQLSchema, documents: list[str]) -> str:
    used = _collect(schema, documents)
    out_types: dict[str, str] = {}
    pending_inputs: list[str] = []

    def need(type_) -> None:
        named = get_named_type(type_)
        if named.name in out_types or is_specified_scalar_type(named):
            return
        if isinstance(named, GraphQLScalarType):
            out_types[named.name] = f"scalar {named.name}"
        elif isinstance(named, GraphQLEnumType):
            values = "\n".join(f"  {v}" for v in named.values)
            out_types[named.name] = f"enum {named.name} {{\n{values}\n}}"
        elif isinstance(named, GraphQLInputObjectType):
            out_types[named.name] = ""  # placeholder against recursion
            pending_inputs.append(named.name)
        elif named.name not in used:
            used[named.name] = set()

    done: set[str] = set()
    while True:
        todo = [n for n in used if n not in done]
        if not todo and not pending_inputs:
            break
        for name in todo:
            done.add(name)
            type_ = schema.get_type(name)
            fields = sorted(used[name])
            lines = []
            for fname in fields:
                field = type_.fields[fname]
                need(field.type)
                args = ""
                if field.args:
                    for arg in field.args.values():
                        need(arg.type)
                    args = "(" + ", ".join(_arg_sdl(a, v) for a, v in field.args.items()) + ")"
                lines.append(f"  {fname}{args}: {field.type}")
            if isinstance(type_, GraphQLUnionType):
                raise SystemExit(f"union {name} is not supported by the subset extractor")
            kind = "interface" if isinstance(type_, GraphQLInterfaceType) else "type"
            impl = ""
            if isinstance(type_, GraphQLObjectType):
                ifaces = [i.name for i in type_.interfaces
                          if i.name in used and used[i.name] <= set(fields)]
                if ifaces:
                    impl = " implements " + " & ".join(sorted(ifaces))
            body = "\n".join(lines) if lines else "  id: ID!"
            out_types[name] = f"{kind} {name}{impl} {{\n{body}\n}}"
        while pending_inputs:
            name = pending_inputs.pop()
            type_ = schema.get_type(name)
            lines = []
            for fname, field in type_.fields.items():
                need(field.type)
                lines.append("  " + _arg_sdl(fname, field))
            out_types[name] = f"input {name} {{\n" + "\n".join(lines) + "\n}"
    # Object types reached only through a fragment on an interface must still implement it.
    header = (f"# Generated by `python -m emulators.shopify.make_schema` from Shopify's Admin API schema {SCHEMA_VERSION}:\n"
              "# only the types and fields the project's documents use, each with all its arguments. Do not edit by hand.\n\n"
              f"schema {{\n  query: {schema.query_type.name}\n  mutation: {schema.mutation_type.name}\n}}\n")
    return header + "\n" + "\n\n".join(out_types[k] for k in sorted(out_types)) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    schema = build_schema(Path(argv[0]).read_text(encoding="utf-8"))
    sdl = subset_sdl(schema, project_documents())
    build_schema(sdl)  # must stand on its own
    OUT.write_text(sdl, encoding="utf-8")
    print(f"wrote {OUT} ({len(sdl)} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
