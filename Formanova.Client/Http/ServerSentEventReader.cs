using System.Globalization;
using System.Text;

namespace Formanova.Client.Http;

/// <summary>One dispatched Server-Sent Events message: its fields after the blank line that ends it.</summary>
internal sealed record ServerSentEvent(string? Id, string? EventType, string Data, TimeSpan? Retry);

/// <summary>Reads the <c>text/event-stream</c> format (WHATWG HTML, "Server-sent events"): fields, comments, blank lines.</summary>
internal sealed class ServerSentEventReader(Stream stream) : IDisposable
{
    private readonly StreamReader _reader = new(stream, Encoding.UTF8);

    /// <summary>The next message, or null when the stream ended. A <c>retry:</c> alone comes back with empty data.</summary>
    public async Task<ServerSentEvent?> ReadAsync(CancellationToken cancellationToken)
    {
        string? id = null;
        string? type = null;
        TimeSpan? retry = null;
        var data = new StringBuilder();
        var any = false;
        while (await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                if (any)
                {
                    return new ServerSentEvent(id, type, data.ToString(), retry);
                }

                continue;
            }

            if (line[0] == ':')
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            any = true;
            switch (field)
            {
                case "id":
                    id = value;
                    break;
                case "event":
                    type = value;
                    break;
                case "data":
                    if (data.Length > 0)
                    {
                        data.Append('\n');
                    }

                    data.Append(value);
                    break;
                case "retry" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var milliseconds):
                    retry = TimeSpan.FromMilliseconds(milliseconds);
                    break;
                default:
                    break;
            }
        }

        return null;
    }

    public void Dispose() => _reader.Dispose();
}
