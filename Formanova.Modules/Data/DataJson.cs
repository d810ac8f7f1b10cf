using System.Text.Json;
using System.Text.Json.Serialization;

namespace Formanova.Modules.Data;

/// <summary>The JSON shape used for what the module stores as text (schemas, import reports): the API's own conventions.</summary>
internal static class DataJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Deserialize<T>(string json) => JsonSerializer.Deserialize<T>(json, Options)
        ?? throw new InvalidDataException($"Stored {typeof(T).Name} is null.");
}
