using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Formanova.Modules.Shared.Json;

/// <summary>
/// Follows a <see cref="Utf8JsonReader"/> and names where it is in System.Text.Json's path form (<c>$.items[1]['a b']</c>),
/// so that a problem found while scanning raw JSON is reported the way a binding error is.
/// </summary>
internal sealed class JsonPathTracker
{
    private readonly List<Frame> _frames = [];

    /// <summary>Call after every <see cref="Utf8JsonReader.Read"/>.</summary>
    public void Advance(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.EndObject or JsonTokenType.EndArray:
                _frames.RemoveAt(_frames.Count - 1);
                return;
            case JsonTokenType.PropertyName:
                _frames[^1].Name = NameOf(ref reader);
                return;
            case JsonTokenType.Comment or JsonTokenType.None:
                return;
        }

        if (_frames.Count > 0 && _frames[^1].IsArray)
        {
            _frames[^1].Index++;
        }

        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            _frames.Add(new Frame { IsArray = reader.TokenType == JsonTokenType.StartArray });
        }
    }

    /// <summary>The path of the current scalar or property name.</summary>
    public string Current
    {
        get
        {
            var path = new StringBuilder("$");
            foreach (var frame in _frames)
            {
                if (frame.IsArray)
                {
                    path.Append('[').Append(frame.Index).Append(']');
                }
                else if (frame.Name is { } name)
                {
                    path.Append(IsPlain(name) ? $".{name}" : $"['{name}']");
                }
            }

            return path.ToString();
        }
    }

    private static string NameOf(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // The name itself does not decode: show it as it was written, escapes and all.
            return Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan);
        }
    }

    private static bool IsPlain(string name) => name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private sealed class Frame
    {
        public bool IsArray { get; init; }

        public int Index { get; set; } = -1;

        public string? Name { get; set; }
    }
}
