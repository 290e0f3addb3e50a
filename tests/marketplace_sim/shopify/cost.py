"""GraphQL query cost, computed before execution the way Shopify documents it:

- a scalar or enum field costs 0, an object field 1 (plus its selection);
- a connection (a type named ``...Connection``) costs
  2 + ``first`` x (1 + the selection of one node), where the node's selection
  is the larger of ``nodes { ... }`` and ``edges { node { ... } }``;
  ``pageInfo``, ``edges`` and ``cursor`` add nothing;
- a plain list of objects costs like one object (its size is unknown);
- a mutation field costs 10 plus its selection;
- introspection fields (``__typename``, ``__schema``...) cost 0.

The simulator charges the requested cost and reports it as the actual cost
too (Shopify refunds the difference when fewer nodes come back; here the
bucket is that much more pessimistic).
"""

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationType,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values

MUTATION_COST = 10
CONNECTION_COST = 2
OBJECT_COST = 1
MAX_QUERY_COST = 1000


class CostCalculator:
    def __init__(self, schema, document, variables):
        """:param variables: the coerced variable values of the operation."""
        self.schema = schema
        self.variables = variables
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }

    def operation_cost(self, operation):
        if operation.operation == OperationType.MUTATION:
            return sum(
                MUTATION_COST + self._selection_cost(get_named_type(field.type), node)
                for field, node in self._fields(
                    self.schema.mutation_type, operation.selection_set
                )
            )
        return self._selection_cost_of_set(
            self.schema.query_type, operation.selection_set
        )

    def _fields(self, parent_type, selection_set):
        """Flatten fragments: yield ``(field definition, field node)``."""
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if not name.startswith("__"):
                    yield parent_type.fields[name], selection
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                fragment_type = (
                    self.schema.get_type(condition.name.value)
                    if condition
                    else parent_type
                )
                yield from self._fields(fragment_type, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                fragment_type = self.schema.get_type(fragment.type_condition.name.value)
                yield from self._fields(fragment_type, fragment.selection_set)

    def _selection_cost_of_set(self, parent_type, selection_set):
        return sum(
            self._field_cost(field, node)
            for field, node in self._fields(parent_type, selection_set)
        )

    def _selection_cost(self, named_type, node):
        if is_leaf_type(named_type):
            return 0
        return self._selection_cost_of_set(named_type, node.selection_set)

    def _field_cost(self, field, node):
        named = get_named_type(field.type)
        if is_leaf_type(named):
            return 0
        if named.name.endswith("Connection"):
            first = get_argument_values(field, node, self.variables).get("first") or 0
            return CONNECTION_COST + max(first, 0) * self._node_cost(named, node)
        return OBJECT_COST + self._selection_cost(named, node)

    def _node_cost(self, connection_type, node):
        node_type = get_named_type(connection_type.fields["nodes"].type)
        costs = [0]
        for field, child in self._fields(connection_type, node.selection_set):
            if child.name.value == "nodes":
                costs.append(self._selection_cost(node_type, child))
            elif child.name.value == "edges":
                edge_type = get_named_type(field.type)
                for edge_field, edge_child in self._fields(
                    edge_type, child.selection_set
                ):
                    if edge_child.name.value == "node":
                        costs.append(
                            self._selection_cost(
                                get_named_type(edge_field.type), edge_child
                            )
                        )
        return OBJECT_COST + max(costs)
