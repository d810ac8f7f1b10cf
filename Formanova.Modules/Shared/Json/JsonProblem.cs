using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Formanova.Modules.Shared.Json;

/// <summary>What kind of input a <see cref="JsonException"/> refused.</summary>
public enum JsonProblemKind
{
    /// <summary>Well-formed JSON, but the text or number breaks an input rule (<see cref="JsonValueException"/>).</summary>
    InvalidValue,

    /// <summary>A member the target type does not have, under <see cref="JsonUnmappedMemberHandling.Disallow"/>.</summary>
    UnknownField,

    /// <summary>An object that lacks required members (required properties or constructor parameters).</summary>
    MissingFields,

    /// <summary>Not JSON, a duplicate member, or a value of the wrong type.</summary>
    Malformed,
}

/// <summary>
/// Why a body could not be bound, in the client's terms (System.Text.Json's own messages name .NET types), worked
/// out from the exception's <see cref="JsonException.Path"/> and the target type's contract rather than its message.
/// </summary>
/// <param name="Kind">What was wrong.</param>
/// <param name="Path">The JSON path of the problem: the unknown member, the object that lacks members, or the value.</param>
/// <param name="Reason">One sentence for the client.</param>
/// <param name="Fields">The unknown member, or the missing ones, by their JSON names; otherwise empty.</param>
public sealed record JsonProblem(JsonProblemKind Kind, string Path, string Reason, IReadOnlyList<string> Fields)
{
    public const string WrongValue = "The value is not valid JSON, or has the wrong type for this field.";

    /// <summary>Explains <paramref name="exception"/>, thrown while reading a value of the given contract.</summary>
    /// <param name="exception">The exception the serializer threw.</param>
    /// <param name="contract">The contract of the type being read (<see cref="JsonSerializerOptions.GetTypeInfo"/>), or null when
    /// the target has none (a <see cref="JsonElement"/>): then unknown and missing members cannot occur.</param>
    public static JsonProblem Of(JsonException exception, JsonTypeInfo? contract = null)
    {
        var path = JsonInput.PathOf(exception);
        if (exception is JsonValueException value)
        {
            return new JsonProblem(JsonProblemKind.InvalidValue, path, value.Reason, []);
        }

        // The reader's own syntax errors come wrapped, with the reader's exception (a JsonException) inside.
        if (exception.InnerException is JsonException syntax)
        {
            return new JsonProblem(JsonProblemKind.Malformed, path, SyntaxReason(syntax), []);
        }

        if (contract is not null && JsonContractPath.Resolve(contract, path) is { } target)
        {
            if (target.UnknownMember is { } name)
            {
                var reason = $"'{name}' is not a field this endpoint takes; check its spelling against /openapi/v1.json.";
                return new JsonProblem(JsonProblemKind.UnknownField, path, reason, [name]);
            }

            if (MissingMembers(exception, target.Contract) is { Count: > 0 } missing)
            {
                var reason = missing.Count == 1
                    ? $"The required field '{missing[0]}' is missing."
                    : $"The required fields {string.Join(", ", missing.Select(m => $"'{m}'"))} are missing.";
                return new JsonProblem(JsonProblemKind.MissingFields, path, reason, missing);
            }
        }

        return new JsonProblem(JsonProblemKind.Malformed, path, WrongValue, []);
    }

    /// <summary>The required members of the object at the exception's path that System.Text.Json reports missing.</summary>
    /// <remarks>
    /// Narrow fallback: the contract says which members an object requires, but which of them the input lacked is known
    /// only to the serializer's internal read state, which it reports in the message alone (and the body is consumed by
    /// then). So the names come from the contract, and the message is only asked which of those it quotes.
    /// </remarks>
    private static List<string> MissingMembers(JsonException exception, JsonTypeInfo? contract) =>
        contract is { Kind: JsonTypeInfoKind.Object }
            ? contract.Properties
                .Where(p => p.IsRequired && exception.Message.Contains($"'{p.Name}'", StringComparison.Ordinal))
                .Select(p => p.Name)
                .ToList()
            : [];

    /// <summary>The reader's own description of a syntax error ("'x' is an invalid start of a value."), without its position.</summary>
    /// <remarks>
    /// Narrow fallback: the reader's exception type and its error codes are internal to System.Text.Json, so what is wrong
    /// is only in its message. It names no .NET type; the position it ends with is dropped, as callers give their own.
    /// </remarks>
    private static string SyntaxReason(JsonException syntax)
    {
        var position = string.Create(
            CultureInfo.InvariantCulture,
            $" LineNumber: {syntax.LineNumber} | BytePositionInLine: {syntax.BytePositionInLine}.");
        return syntax.Message.EndsWith(position, StringComparison.Ordinal) && syntax.Message.Length > position.Length
            ? syntax.Message[..^position.Length]
            : "The text is not well-formed JSON.";
    }
}
