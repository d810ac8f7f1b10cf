using System.Text.Json;

namespace Formanova.Tests.Event;

/// <summary>Reads a text/event-stream response frame by frame.</summary>
internal sealed class SseReader(Stream stream) : IDisposable
{
    private readonly StreamReader _reader = new(stream);

    public List<string> Comments { get; } = [];

    /// <summary>The next frame with data (comments are collected on the way), or fails after the timeout.</summary>
    public async Task<SseFrame> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        string? id = null, name = null;
        var data = new List<string>();
        while (true)
        {
            var line = await _reader.ReadLineAsync(cts.Token) ?? throw new EndOfStreamException("The event stream ended.");
            if (line.Length == 0)
            {
                if (data.Count > 0)
                {
                    return new SseFrame(id, name, string.Join('\n', data));
                }

                continue;
            }

            if (line.StartsWith(':'))
            {
                Comments.Add(line[1..].Trim());
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line[4..];
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data.Add(line[6..]);
            }
        }
    }

    /// <summary>Reads comment lines until one equals <paramref name="comment"/>.</summary>
    public async Task WaitForCommentAsync(string comment, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!Comments.Contains(comment))
        {
            var line = await _reader.ReadLineAsync(cts.Token) ?? throw new EndOfStreamException("The event stream ended.");
            if (line.StartsWith(':'))
            {
                Comments.Add(line[1..].Trim());
            }
        }
    }

    public void Dispose() => _reader.Dispose();
}

internal sealed record SseFrame(string? Id, string? Event, string Data)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;

    public long Sequence => long.Parse(Id!, System.Globalization.CultureInfo.InvariantCulture);
}
