using System.Buffers;
using Formanova.Modules.Data.Storage;

namespace Formanova.Tests.Data.Storage;

public sealed class RowCodecTests
{
    [Test]
    public void Decode_WhenEncodedRowHasEveryType_ReturnsTheSameValues()
    {
        object?[] row = [
            1.5, null, "héllo, 世界", true, false, new DateTimeOffset(2024, 2, 29, 23, 59, 59, 999, TimeSpan
            .Zero), new string('x', 300), -0.0
        ];

        var decoded = RowCodec.Decode(RowCodec.Encode(row, new ArrayBufferWriter<byte>()), row.Length);

        Assert.That(decoded, Is.EqualTo(row));
    }

    [Test]
    public void Decode_WhenThePayloadHasFewerColumnsThanAsked_LeavesTheRestNull()
    {
        var decoded = RowCodec.Decode(RowCodec.Encode([2.0], new ArrayBufferWriter<byte>()), 3);

        Assert.That(decoded, Is.EqualTo(new object?[] { 2.0, null, null }));
    }
}
