using Google.Protobuf;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.Schedule.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Schedules;

/// <summary>An action waiting for its turn under the overlap policy.</summary>
internal sealed record BufferedStart(DateTime Nominal, DateTime Actual, ScheduleOverlapPolicy Overlap, bool Manual);

/// <summary>
/// One schedule's state. Everything is changed under <see cref="Gate"/> and saved whole (<see cref="Serialize"/>)
/// after each change, so the stored row is always a state the schedule was in.
/// </summary>
internal sealed class ScheduleEntry(string ns, string id)
{
    public Lock Gate { get; } = new();

    public string Namespace { get; } = ns;

    public string Id { get; } = id;

    public string RequestId { get; set; } = "";

    public Schedule Schedule { get; set; } = new();

    public CompiledSpec Spec { get; set; } = null!;

    public ScheduleInfo Info { get; set; } = new();

    public Memo? Memo { get; set; }

    public SearchAttributes? SearchAttributes { get; set; }

    public long ConflictToken { get; set; } = 1;

    /// <summary>The nominal time of the last action time the spec was processed up to (taken, skipped or missed).</summary>
    public DateTime Cursor { get; set; }

    public List<BufferedStart> Buffer { get; } = [];

    public Payloads? LastCompletionResult { get; set; }

    public Temporalio.Api.Failure.V1.Failure? LastFailure { get; set; }

    public bool Deleted { get; set; }

    /// <summary>Set while the buffer is being drained, so a run closing during a terminate asks for another pass.</summary>
    public bool Draining { get; set; }

    public bool Dirty { get; set; }

    /// <summary>Only the newest armed wake-up acts; older ones (from before an update) see another number.</summary>
    public int WakeSeq { get; set; }

    public ByteString Token => ByteString.CopyFrom(BitConverter.GetBytes(ConflictToken));

    public byte[] Serialize()
    {
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        var described = new DescribeScheduleResponse
        {
            Schedule = Schedule,
            Info = Info,
            Memo = Memo,
            SearchAttributes = SearchAttributes,
            ConflictToken = Token,
        };
        WriteBytes(writer, described.ToByteArray());
        writer.Write(Cursor.Ticks);
        writer.Write(RequestId);
        writer.Write(Buffer.Count);
        foreach (var b in Buffer)
        {
            writer.Write(b.Nominal.Ticks);
            writer.Write(b.Actual.Ticks);
            writer.Write((int)b.Overlap);
            writer.Write(b.Manual);
        }

        WriteBytes(writer, LastCompletionResult?.ToByteArray() ?? []);
        WriteBytes(writer, LastFailure?.ToByteArray() ?? []);
        writer.Flush();
        return stream.ToArray();
    }

    public static ScheduleEntry Deserialize(string ns, string id, byte[] data)
    {
        using var reader = new BinaryReader(new MemoryStream(data));
        var described = DescribeScheduleResponse.Parser.ParseFrom(ReadBytes(reader));
        var entry = new ScheduleEntry(ns, id)
        {
            Schedule = described.Schedule,
            Info = described.Info,
            Memo = described.Memo,
            SearchAttributes = described.SearchAttributes,
            ConflictToken = BitConverter.ToInt64(described.ConflictToken.Span),
            Cursor = new DateTime(reader.ReadInt64(), DateTimeKind.Utc),
            RequestId = reader.ReadString(),
        };
        entry.Spec = new CompiledSpec(entry.Schedule.Spec, ns + "/" + id);
        var count = reader.ReadInt32();
        for (var i = 0; i < count; i++)
        {
            entry.Buffer.Add(new BufferedStart(
                new DateTime(reader.ReadInt64(), DateTimeKind.Utc),
                new DateTime(reader.ReadInt64(), DateTimeKind.Utc),
                (ScheduleOverlapPolicy)reader.ReadInt32(),
                reader.ReadBoolean()));
        }

        var result = ReadBytes(reader);
        entry.LastCompletionResult = result.Length == 0 ? null : Payloads.Parser.ParseFrom(result);
        var failure = ReadBytes(reader);
        entry.LastFailure = failure.Length == 0 ? null : Temporalio.Api.Failure.V1.Failure.Parser.ParseFrom(failure);
        return entry;
    }

    private static void WriteBytes(BinaryWriter writer, byte[] bytes)
    {
        writer.Write(bytes.Length);
        writer.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader reader) => reader.ReadBytes(reader.ReadInt32());
}
