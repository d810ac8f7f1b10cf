using System.Text;

namespace Formanova.Modules.Data.Results;

/// <summary>
/// The stored form of one chunk's predictions: a format byte, the row count, the chunk's distinct labels once, then
/// per row the row id as a zig-zag 7-bit delta from the previous one, the label's index (0 for none), a presence byte
/// and the present value and score as 8-byte little-endian doubles. About 11 bytes per binary-classification row.
/// </summary>
internal static class PredictionCodec
{
    private const byte Format = 1;
    private const byte HasValue = 1;
    private const byte HasScore = 2;

    public static byte[] Encode(IReadOnlyList<StoredPrediction> predictions)
    {
        var labels = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in predictions)
        {
            if (p.Label is not null)
            {
                labels.TryAdd(p.Label, labels.Count + 1);
            }
        }

        using var stream = new MemoryStream(16 + (predictions.Count * 12));
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Format);
            writer.Write7BitEncodedInt(predictions.Count);
            writer.Write7BitEncodedInt(labels.Count);
            foreach (var label in labels.Keys)
            {
                writer.Write(label);
            }

            var previous = 0L;
            foreach (var p in predictions)
            {
                var delta = unchecked(p.RowId - previous);
                writer.Write7BitEncodedInt64((delta << 1) ^ (delta >> 63));
                previous = p.RowId;
                writer.Write7BitEncodedInt(p.Label is null ? 0 : labels[p.Label]);
                writer.Write((byte)((p.Value is null ? 0 : HasValue) | (p.Score is null ? 0 : HasScore)));
                if (p.Value is { } value)
                {
                    writer.Write(value);
                }

                if (p.Score is { } score)
                {
                    writer.Write(score);
                }
            }
        }

        return stream.ToArray();
    }

    public static List<StoredPrediction> Decode(byte[] payload)
    {
        using var reader = new BinaryReader(new MemoryStream(payload, writable: false), Encoding.UTF8);
        if (reader.ReadByte() != Format)
        {
            throw new InvalidDataException($"Unknown stored prediction format {payload[0]}.");
        }

        var count = reader.Read7BitEncodedInt();
        var labels = new string[reader.Read7BitEncodedInt() + 1];
        for (var i = 1; i < labels.Length; i++)
        {
            labels[i] = reader.ReadString();
        }

        var predictions = new List<StoredPrediction>(count);
        var rowId = 0L;
        for (var i = 0; i < count; i++)
        {
            var zigzag = reader.Read7BitEncodedInt64();
            rowId = unchecked(rowId + ((long)((ulong)zigzag >> 1) ^ -(zigzag & 1)));
            var label = labels[reader.Read7BitEncodedInt()];
            var present = reader.ReadByte();
            double? value = (present & HasValue) != 0 ? reader.ReadDouble() : null;
            double? score = (present & HasScore) != 0 ? reader.ReadDouble() : null;
            predictions.Add(new StoredPrediction(rowId, label, value, score));
        }

        return predictions;
    }
}
