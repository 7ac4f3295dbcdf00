"""Query cost as Shopify documents it (shopify.dev, "API rate limits" / "Calculating query costs").

Requested cost, computed from the document before running it: a scalar or enum field costs 0, an
object 1, a connection 2 plus `first` (or `last`) times the cost of one node; a mutation costs 10.
Actual cost, computed from the answer: the same, with the number of nodes actually returned.
"""

from __future__ import annotations

from typing import Any, Mapping

from graphql import (FieldNode, FragmentSpreadNode, GraphQLList, GraphQLNonNull, GraphQLSchema,
                     InlineFragmentNode, OperationDefinitionNode, OperationType, get_named_type, is_leaf_type)
from graphql.execution.values import get_directive_values
from graphql.type import GraphQLIncludeDirective, GraphQLSkipDirective
from graphql.utilities import value_from_ast

MUTATION_COST = 10


def _is_list(type_) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class CostCalculator:
    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, Any], variables: Mapping[str, Any]):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def _included(self, node) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if"):
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include.get("if") is False)

    def _arg(self, node: FieldNode, field_def, name: str) -> Any:
        for arg in node.arguments or ():
            if arg.name.value == name:
                return value_from_ast(arg.value, field_def.args[name].type, self.variables)
        return None

    def selections(self, selection_set, parent_type, data: Any, actual: bool) -> int:
        total = 0
        for sel in selection_set.selections:
            if not self._included(sel):
                continue
            if isinstance(sel, InlineFragmentNode):
                cond = self.schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent_type
                total += self.selections(sel.selection_set, cond, data, actual)
            elif isinstance(sel, FragmentSpreadNode):
                frag = self.fragments[sel.name.value]
                total += self.selections(frag.selection_set, self.schema.get_type(frag.type_condition.name.value),
                                         data, actual)
            elif isinstance(sel, FieldNode):
                total += self.field(sel, parent_type, data, actual)
        return total

    def field(self, node: FieldNode, parent_type, data: Any, actual: bool) -> int:
        name = node.name.value
        if name.startswith("__") or not hasattr(parent_type, "fields") or name not in parent_type.fields:
            return 0
        field_def = parent_type.fields[name]
        type_ = get_named_type(field_def.type)
        if is_leaf_type(type_):
            return 0
        value = None
        if actual:
            value = data.get((node.alias or node.name).value) if isinstance(data, Mapping) else None
            if value is None:
                return 0
        if type_.name.endswith("Connection") and "nodes" in type_.fields:
            node_type = get_named_type(type_.fields["nodes"].type)
            per_node_sel = []
            for sub in node.selection_set.selections:
                if isinstance(sub, FieldNode) and sub.name.value == "nodes":
                    per_node_sel.append(("nodes", sub))
                elif isinstance(sub, FieldNode) and sub.name.value == "edges":
                    for inner in sub.selection_set.selections:
                        if isinstance(inner, FieldNode) and inner.name.value == "node":
                            per_node_sel.append(("edges", sub, inner))
            if not actual:
                size = self._arg(node, field_def, "first") or self._arg(node, field_def, "last") or 0
                per_node = 1 + sum(self.selections(p[-1].selection_set, node_type, None, False) for p in per_node_sel)
                return 2 + size * per_node
            total = 2
            for p in per_node_sel:
                key = (p[1].alias or p[1].name).value
                items = value.get(key) or []
                for item in items:
                    item_node = item if p[0] == "nodes" else (item or {}).get((p[2].alias or p[2].name).value)
                    total += 1 + self.selections(p[-1].selection_set, node_type, item_node, True)
            return total
        if _is_list(field_def.type):
            return 1  # a plain list of objects (not a connection) counts as one object
        return 1 + self.selections(node.selection_set, type_, value, actual)


def operation_cost(schema: GraphQLSchema, document, operation: OperationDefinitionNode,
                   variables: Mapping[str, Any], data: Any = None, actual: bool = False) -> int:
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    calc = CostCalculator(schema, fragments, variables)
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST * max(1, len(operation.selection_set.selections))
    root = schema.query_type
    return calc.selections(operation.selection_set, root, data, actual)
