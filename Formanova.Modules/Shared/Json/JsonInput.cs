using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;

namespace Formanova.Modules.Shared.Json;

/// <summary>
/// A JSON value a client sent that is well-formed but cannot be used: a string that does not decode to valid UTF-16
/// (a lone surrogate escape such as <c>"\ud800"</c>, or invalid UTF-8 bytes), or a number that is not finite.
/// System.Text.Json fills in <see cref="JsonException.Path"/> when a converter throws it.
/// </summary>
public sealed class JsonValueException(string reason, string? innerPath = null) : JsonException(reason)
{
    /// <summary>The reason, without the path and position System.Text.Json appends to the message.</summary>
    public string Reason { get; } = reason;

    /// <summary>Where inside the value the problem is (<c>$.a[2]</c>), when the value is an object or array.</summary>
    public string? InnerPath { get; } = innerPath;
}

/// <summary>
/// The rules every JSON input meets before any code reads it, applied as converters so they hold for every bound
/// body, whatever its type: strings decode, numbers are finite. Without them a lone surrogate escape is accepted
/// by the reader and throws <see cref="InvalidOperationException"/> wherever the string is first decoded (a 500,
/// or an event stored that no history read can serve back), and <c>"NaN"</c> or <c>1e999</c> reach arithmetic.
/// </summary>
public static class JsonInput
{
    public const string InvalidText = "The string is not valid Unicode: it holds a lone UTF-16 surrogate escape or invalid UTF-8.";
    public const string NotFinite = "The number is not finite: NaN, Infinity and values beyond ±1.7976931348623157E+308 are refused.";

    /// <summary>Adds the input rules to a serializer's options (before the options are first used).</summary>
    public static JsonSerializerOptions AddInputRules(this JsonSerializerOptions options)
    {
        options.Converters.Add(new StringConverter());
        options.Converters.Add(new DoubleConverter());
        options.Converters.Add(new SingleConverter());
        options.Converters.Add(new ElementConverter());
        options.Converters.Add(new ObjectConverter());
        return options;
    }

    /// <summary>The JSON path of a binding error, down to the part of a checked value that broke a rule.</summary>
    public static string PathOf(JsonException exception)
    {
        var path = string.IsNullOrEmpty(exception.Path) ? "$" : exception.Path;
        return exception is JsonValueException { InnerPath: { Length: > 1 } inner } ? path + inner[1..] : path;
    }

    /// <summary>The first place where <paramref name="utf8Json"/> breaks the input rules, or null if it keeps them.</summary>
    /// <remarks>Malformed JSON is not reported here: the parser that reads it next reports that with its own position.</remarks>
    public static (string Path, string Reason)? FindProblem(ReadOnlySpan<byte> utf8Json, int maxDepth = 64)
    {
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = maxDepth });
        var path = new JsonPathTracker();
        try
        {
            while (reader.Read())
            {
                path.Advance(ref reader);
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName when !Decodes(ref reader):
                        return (path.Current, InvalidText);
                    case JsonTokenType.String when !Decodes(ref reader):
                        return (path.Current, InvalidText);
                    case JsonTokenType.Number when !reader.TryGetDouble(out var number) || !double.IsFinite(number):
                        return (path.Current, NotFinite);
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return null;
    }

    /// <summary>
    /// Replaces lone surrogate escapes in stored JSON text with <c>\uFFFD</c>, so that text written before these rules
    /// existed is served (with the replacement character) instead of failing every read that includes it.
    /// </summary>
    public static string RepairLoneSurrogates(string json)
    {
        if (!json.Contains("\\u", StringComparison.Ordinal))
        {
            return json;
        }

        var builder = new StringBuilder(json.Length);
        for (var i = 0; i < json.Length; i++)
        {
            if (json[i] != '\\' || i + 1 >= json.Length)
            {
                builder.Append(json[i]);
                continue;
            }

            if (json[i + 1] != 'u' || !TryHex(json, i + 2, out var unit))
            {
                builder.Append(json, i, 2); // any other escape, including "\\", is copied whole so it is not re-read
                i++;
                continue;
            }

            if (char.IsHighSurrogate(unit) && i + 12 <= json.Length && json[i + 6] == '\\' && json[i + 7] == 'u'
                && TryHex(json, i + 8, out var low) && char.IsLowSurrogate(low))
            {
                builder.Append(json, i, 12);
                i += 11;
            }
            else
            {
                builder.Append(char.IsSurrogate(unit) ? "\\uFFFD" : json.AsSpan(i, 6));
                i += 5;
            }
        }

        return builder.ToString();
    }

    private static bool TryHex(string text, int start, out char unit)
    {
        unit = '\0';
        return start + 4 <= text.Length
            && ushort.TryParse(text.AsSpan(start, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            && (unit = (char)value) == value;
    }

    private static bool Decodes(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return Utf8.IsValid(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan);
        }

        try
        {
            _ = reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static JsonElement ReadElement(ref Utf8JsonReader reader)
    {
        // A scalar, as nearly every input value is, is checked where the reader stands: no second reader and path
        // tracker per value, which cost the predict path more than reading its body.
        switch (reader.TokenType)
        {
            case JsonTokenType.String when !Decodes(ref reader):
                throw new JsonValueException(InvalidText, "$");
            case JsonTokenType.Number when !reader.TryGetDouble(out var number) || !double.IsFinite(number):
                throw new JsonValueException(NotFinite, "$");
            case JsonTokenType.String or JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null:
                return JsonElement.ParseValue(ref reader);
        }

        var element = JsonElement.ParseValue(ref reader);
        if (element.ValueKind is JsonValueKind.Object or JsonValueKind.Array or JsonValueKind.String or JsonValueKind.Number
            && FindProblem(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element)) is { } problem)
        {
            throw new JsonValueException(problem.Reason, problem.Path);
        }

        return element;
    }

    private sealed class StringConverter : JsonConverter<string>
    {
        public override bool HandleNull => false;

        public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new JsonException(); // System.Text.Json words this as a type mismatch at the path.
            }

            return Decode(ref reader);
        }

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

        public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            Decode(ref reader);

        public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) =>
            writer.WritePropertyName(value);

        private static string Decode(ref Utf8JsonReader reader)
        {
            try
            {
                return reader.GetString()!;
            }
            catch (InvalidOperationException)
            {
                throw new JsonValueException(InvalidText);
            }
        }
    }

    private sealed class DoubleConverter : JsonConverter<double>
    {
        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => ReadFinite(ref reader);

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
    }

    private sealed class SingleConverter : JsonConverter<float>
    {
        public override float Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var value = (float)ReadFinite(ref reader);
            return float.IsFinite(value) ? value : throw new JsonValueException(NotFinite);
        }

        public override void Write(Utf8JsonWriter writer, float value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
    }

    /// <summary>Numbers, or numeric strings as the web defaults allow, but never a non-finite one either way.</summary>
    private static double ReadFinite(ref Utf8JsonReader reader)
    {
        double value;
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                // The only well-formed JSON number that does not parse as a double is one beyond its range.
                return reader.TryGetDouble(out value) && double.IsFinite(value) ? value : throw new JsonValueException(NotFinite);
            case JsonTokenType.String when double.TryParse(reader.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out value):
                return double.IsFinite(value) ? value : throw new JsonValueException(NotFinite);
            default:
                throw new JsonException(); // System.Text.Json words this as a type mismatch at the path.
        }
    }

    private sealed class ElementConverter : JsonConverter<JsonElement>
    {
        public override JsonElement Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
            => ReadElement(ref reader);

        public override void Write(Utf8JsonWriter writer, JsonElement value, JsonSerializerOptions options) => value.WriteTo(writer);
    }

    /// <summary>Untyped members (<c>object?</c>) are read as JSON elements, as System.Text.Json does, but checked.</summary>
    private sealed class ObjectConverter : JsonConverter<object>
    {
        public override bool CanConvert(Type typeToConvert) => typeToConvert == typeof(object);

        public override object Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
            => ReadElement(ref reader);

        public override void Write(Utf8JsonWriter writer, object value, JsonSerializerOptions options)
        {
            if (value.GetType() == typeof(object))
            {
                writer.WriteStartObject();
                writer.WriteEndObject();
                return;
            }

            JsonSerializer.Serialize(writer, value, value.GetType(), options);
        }
    }
}
