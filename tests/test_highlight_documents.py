"""Every GraphQL document sent to Highlight validates against the project's copy of the public schema."""

from __future__ import annotations

import graphql
import pytest

from mcp_server.adapters.highlight_documents import OPERATIONS, Operation, schema_sdl


@pytest.fixture(scope="module")
def schema() -> graphql.GraphQLSchema:
    built = graphql.build_schema(schema_sdl())
    assert graphql.validate_schema(built) == []
    return built


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_each_document_is_one_valid_mutation_of_the_field_it_names(
    schema: graphql.GraphQLSchema, op: Operation
) -> None:
    document = graphql.parse(op.document)
    assert graphql.validate(schema, document) == []
    (definition,) = document.definitions
    assert isinstance(definition, graphql.OperationDefinitionNode)
    assert definition.operation == graphql.OperationType.MUTATION
    assert definition.name is not None and definition.name.value == op.name
    (selection,) = definition.selection_set.selections
    assert isinstance(selection, graphql.FieldNode) and selection.name.value == op.field


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_every_variable_is_declared_as_the_schema_declares_its_argument(
    schema: graphql.GraphQLSchema, op: Operation
) -> None:
    # Stricter declarations (String! for a String argument) would still validate, but would refuse
    # values the real server accepts; looser ones do not validate at all.
    (definition,) = graphql.parse(op.document).definitions
    assert isinstance(definition, graphql.OperationDefinitionNode)
    declared = {v.variable.name.value: graphql.print_ast(v.type) for v in definition.variable_definitions or ()}
    assert schema.mutation_type is not None
    arguments = schema.mutation_type.fields[op.field].args
    (selection,) = definition.selection_set.selections
    assert isinstance(selection, graphql.FieldNode)
    for argument in selection.arguments or ():
        assert isinstance(argument.value, graphql.VariableNode)
        assert declared[argument.value.name.value] == str(arguments[argument.name.value].type), argument.name.value


def test_the_track_mutation_of_the_seed_api_does_not_exist(schema: graphql.GraphQLSchema) -> None:
    seed = graphql.parse(
        "mutation addTrackProperties($id: String!, $p: Any) "
        "{ addTrackProperties(session_secure_id: $id, properties_object: $p) }"
    )
    errors = graphql.validate(schema, seed)
    assert [e.message for e in errors] == [
        "Cannot query field 'addTrackProperties' on type 'Mutation'. Did you mean 'addSessionProperties'?"
    ]
