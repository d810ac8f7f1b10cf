using System.Text.Json;

namespace Formanova.Host.Workflows.Common;

/// <summary>
/// The one JSON form of what workflows store and publish: results, saga states and event data reach clients as
/// they are, so they use the API's camelCase web defaults. Reading uses the same names, matched exactly.
/// </summary>
internal static class WorkflowJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web) { PropertyNameCaseInsensitive = false };

    public static JsonElement Element<T>(T value) => JsonSerializer.SerializeToElement(value, Options);
}
