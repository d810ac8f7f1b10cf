using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Formanova.Modules.Data.Storage;

/// <summary>
/// The stored form of a row: per column a tag byte then the value (double and UTC ticks as 8 bytes little-endian,
/// strings as a 7-bit-encoded length and UTF-8). Decoding is a single forward pass with no text parsing, which is
/// what lets a training read keep up with the database.
/// </summary>
internal static class RowCodec
{
    private const byte Null = 0;
    private const byte Number = 1;
    private const byte Text = 2;
    private const byte True = 3;
    private const byte False = 4;
    private const byte Timestamp = 5;

    public static byte[] Encode(object?[] values, ArrayBufferWriter<byte> buffer)
    {
        EncodeInto(values, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Encodes into <paramref name="buffer"/>, which then holds exactly the row's bytes.</summary>
    public static void EncodeInto(object?[] values, ArrayBufferWriter<byte> buffer)
    {
        buffer.ResetWrittenCount();
        foreach (var value in values)
        {
            switch (value)
            {
                case null:
                    buffer.GetSpan(1)[0] = Null;
                    buffer.Advance(1);
                    break;
                case double d:
                    var span = buffer.GetSpan(9);
                    span[0] = Number;
                    BinaryPrimitives.WriteDoubleLittleEndian(span[1..], d);
                    buffer.Advance(9);
                    break;
                case bool b:
                    buffer.GetSpan(1)[0] = b ? True : False;
                    buffer.Advance(1);
                    break;
                case DateTimeOffset t:
                    var ts = buffer.GetSpan(9);
                    ts[0] = Timestamp;
                    BinaryPrimitives.WriteInt64LittleEndian(ts[1..], t.UtcTicks);
                    buffer.Advance(9);
                    break;
                case string s:
                    var byteCount = Encoding.UTF8.GetByteCount(s);
                    var target = buffer.GetSpan(1 + 5 + byteCount);
                    target[0] = Text;
                    var lengthBytes = WriteVarint(target[1..], (uint)byteCount);
                    Encoding.UTF8.GetBytes(s, target[(1 + lengthBytes)..]);
                    buffer.Advance(1 + lengthBytes + byteCount);
                    break;
                default:
                    throw new InvalidOperationException($"Cannot store a {value.GetType().Name}.");
            }
        }
    }

    public static object?[] Decode(ReadOnlySpan<byte> payload, int columnCount)
    {
        var values = new object?[columnCount];
        var position = 0;
        for (var i = 0; i < columnCount && position < payload.Length; i++)
        {
            var tag = payload[position++];
            switch (tag)
            {
                case Null:
                    break;
                case Number:
                    values[i] = BinaryPrimitives.ReadDoubleLittleEndian(payload[position..]);
                    position += 8;
                    break;
                case True:
                    values[i] = BoxedTrue;
                    break;
                case False:
                    values[i] = BoxedFalse;
                    break;
                case Timestamp:
                    values[i] = new DateTimeOffset(BinaryPrimitives.ReadInt64LittleEndian(payload[position..]), TimeSpan.Zero);
                    position += 8;
                    break;
                case Text:
                    var length = (int)ReadVarint(payload, ref position);
                    values[i] = Encoding.UTF8.GetString(payload.Slice(position, length));
                    position += length;
                    break;
                default:
                    throw new InvalidDataException($"Unknown value tag {tag} in a stored row.");
            }
        }

        return values;
    }

    private static readonly object BoxedTrue = true;
    private static readonly object BoxedFalse = false;

    private static int WriteVarint(Span<byte> target, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            target[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        target[i++] = (byte)value;
        return i;
    }

    private static uint ReadVarint(ReadOnlySpan<byte> source, ref int position)
    {
        uint result = 0;
        var shift = 0;
        byte b;
        do
        {
            b = source[position++];
            result |= (uint)(b & 0x7F) << shift;
            shift += 7;
        }
        while ((b & 0x80) != 0);
        return result;
    }
}
