using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Formanova.Modules.Shared.Json;

namespace Formanova.Modules.Event.Log;

/// <summary>One row of <c>event_log</c> (Dapper needs settable properties).</summary>
internal sealed class EventRow
{
    public long Id { get; set; }

    public string IdempotencyKey { get; set; } = "";

    public string Type { get; set; } = "";

    public string Source { get; set; } = "";

    public string? Subject { get; set; }

    public DateTimeOffset Time { get; set; }

    public string? CorrelationId { get; set; }

    /// <summary>
    /// The data's JSON text. Rows written before the input rules could hold a lone surrogate escape, which no
    /// serializer can write back out; they are served with U+FFFD in its place rather than failing every read.
    /// </summary>
    public string? Data { get => _data; set => _data = value is null ? null : JsonInput.RepairLoneSurrogates(value); }

    private string? _data;

    /// <summary>The CloudEvents <c>dataref</c> extension: where the full data is read when <see cref="Data"/> holds a summary.</summary>
    public string? DataRef { get; set; }
}

/// <summary>
/// A committed event as it travels through broadcast: its CloudEvents JSON is serialised once here, because one
/// event goes to up to thousands of SSE subscribers and every webhook.
/// </summary>
internal sealed class LoggedEvent
{
    private CloudEvent? _cloudEvent;

    /// <summary>Not an event: the marker a subscriber's buffer carries when a heartbeat is due.</summary>
    public static readonly LoggedEvent Heartbeat = new();

    private LoggedEvent()
    {
        Row = new EventRow();
        Json = [];
        SseFrame = ": heartbeat\n\n"u8.ToArray();
    }

    public LoggedEvent(EventRow row)
    {
        Row = row;
        Json = Serialize(row);
        SseFrame = BuildSseFrame(row.Id, Json);
    }

    public EventRow Row { get; }

    public long Sequence => Row.Id;

    /// <summary>UTF-8 CloudEvents 1.0 structured JSON.</summary>
    public byte[] Json { get; }

    /// <summary><c>id: N\ndata: {json}\n\n</c>, ready to write to an SSE response.</summary>
    public byte[] SseFrame { get; }

    public CloudEvent CloudEvent => _cloudEvent ??= ToCloudEvent(Row);

    public static CloudEvent ToCloudEvent(EventRow row)
    {
        JsonElement? data = null;
        if (row.Data is not null)
        {
            using var document = JsonDocument.Parse(row.Data);
            data = document.RootElement.Clone();
        }

        return new CloudEvent("1.0", row.Id.ToString(CultureInfo.InvariantCulture), row.Source, row.Type, row.Subject,
            row.Time, "application/json", row.CorrelationId, data, row.DataRef);
    }

    private static byte[] Serialize(EventRow row)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + (row.Data?.Length ?? 0));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("specversion", "1.0");
            writer.WriteString("id", row.Id.ToString(CultureInfo.InvariantCulture));
            writer.WriteString("source", row.Source);
            writer.WriteString("type", row.Type);
            if (row.Subject is not null)
            {
                writer.WriteString("subject", row.Subject);
            }

            writer.WriteString("time", row.Time.ToUniversalTime());
            writer.WriteString("datacontenttype", "application/json");
            if (row.CorrelationId is not null)
            {
                writer.WriteString("correlationid", row.CorrelationId);
            }

            if (row.Data is not null)
            {
                // Validated JSON on the way in; writing it raw avoids a parse per event on the hot path.
                writer.WritePropertyName("data");
                writer.WriteRawValue(row.Data, skipInputValidation: true);
            }

            if (row.DataRef is not null)
            {
                writer.WriteString("dataref", row.DataRef);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] BuildSseFrame(long id, byte[] json)
    {
        var prefix = Encoding.UTF8.GetBytes($"id: {id.ToString(CultureInfo.InvariantCulture)}\ndata: ");
        var frame = new byte[prefix.Length + json.Length + 2];
        prefix.CopyTo(frame, 0);
        json.CopyTo(frame, prefix.Length);
        frame[^2] = (byte)'\n';
        frame[^1] = (byte)'\n';
        return frame;
    }
}
