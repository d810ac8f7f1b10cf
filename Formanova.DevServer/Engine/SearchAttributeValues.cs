using System.Globalization;
using System.Text.Json;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;

namespace Formanova.DevServer.Engine;

/// <summary>
/// Search attribute payloads (json/plain, as every SDK writes them) decoded by the attribute's registered type:
/// string for Keyword and Text, long, double, bool, a UTC DateTime, or a string array for KeywordList.
/// </summary>
internal static class SearchAttributeValues
{
    /// <summary>
    /// An upsert with this value removes the attribute: an empty or null payload, or an empty list, as Temporal's
    /// merge of search attribute maps treats them.
    /// </summary>
    public static bool IsRemoval(Payload payload)
    {
        if (payload.Data.IsEmpty)
        {
            return true;
        }

        if (payload.Metadata.TryGetValue("encoding", out var encoding) && encoding.ToStringUtf8() == "binary/null")
        {
            return true;
        }

        var text = payload.Data.ToStringUtf8().Trim();
        return text is "null" or "[]";
    }

    /// <summary>The value as its type, or null when the payload does not hold a value of that type.</summary>
    public static object? Decode(Payload payload, IndexedValueType type)
    {
        try
        {
            using var json = JsonDocument.Parse(payload.Data.Memory);
            return FromJson(json.RootElement, type);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static DateTime? ParseDateTime(string text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)
            ? value.UtcDateTime
            : null;

    private static object? FromJson(JsonElement e, IndexedValueType type) => (type, e.ValueKind) switch
    {
        (IndexedValueType.Keyword or IndexedValueType.Text, JsonValueKind.String) => e.GetString(),
        (IndexedValueType.Int, JsonValueKind.Number) => e.TryGetInt64(out var l) ? l : null,
        (IndexedValueType.Double, JsonValueKind.Number) => e.GetDouble(),
        (IndexedValueType.Bool, JsonValueKind.True) => true,
        (IndexedValueType.Bool, JsonValueKind.False) => false,
        (IndexedValueType.Datetime, JsonValueKind.String) => ParseDateTime(e.GetString()!),
        (IndexedValueType.KeywordList, JsonValueKind.String) => new[] { e.GetString()! },
        (IndexedValueType.KeywordList, JsonValueKind.Array) => e.EnumerateArray().All(i => i.ValueKind == JsonValueKind.String)
            ? e.EnumerateArray().Select(i => i.GetString()!).ToArray()
            : null,
        _ => null,
    };
}
