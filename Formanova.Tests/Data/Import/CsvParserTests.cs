using Formanova.Modules.Data.Import;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Tests.Data.Import;

public sealed class CsvParserTests
{
    private static async Task<List<string[]>> ParseAsync(string text, char delimiter = ',', int maxFieldChars = 1000, int bufferSplit = 0)
    {
        TextReader reader = bufferSplit > 0 ? new TrickleReader(text, bufferSplit) : new StringReader(text);
        var parser = new CsvParser(reader, delimiter, maxFieldChars, 100);
        var records = new List<string[]>();
        while (await parser.ReadAsync(CancellationToken.None))
        {
            records.Add([.. parser.Fields]);
        }

        return records;
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(3)]
    public async Task ReadAsync_WhenRfc4180Features_ParsesEveryField(int bufferSplit)
    {
        const string text = "a,\"b,1\",c\r\n\"multi\r\nline\",\"say \"\"hi\"\"\",\r\n,,\"\"\r\nlast,row,no-newline";

        var records = await ParseAsync(text, bufferSplit: bufferSplit);

        Assert.That(records, Is.EqualTo(new[]
        {
            new[] { "a", "b,1", "c" },
            new[] { "multi\r\nline", "say \"hi\"", "" },
            new[] { "", "", "" },
            new[] { "last", "row", "no-newline" },
        }));
    }

    [Test]
    public async Task ReadAsync_WhenTabDelimitedWithLfEndings_SplitsOnTabs()
    {
        var records = await ParseAsync("x\ty,z\n1\t2\n", '\t');

        Assert.That(records, Is.EqualTo(new[] { new[] { "x", "y,z" }, new[] { "1", "2" } }));
    }

    [TestCase("a,\"open\n", "never closed")]
    [TestCase("a,b\"c\n", "quote appears inside an unquoted field on line 1")]
    [TestCase("a\n\"x\"y,b\n", "follows the closing quote of a field on line 2")]
    public void ReadAsync_WhenQuotesAreMalformed_ThrowsInvalidWithTheLine(string text, string expected)
    {
        var ex = Assert.ThrowsAsync<ModuleException>(() => ParseAsync(text));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(ex.Message, Does.Contain(expected));
        });
    }

    [Test]
    public void ReadAsync_WhenAFieldIsTooLong_ThrowsTooLarge()
    {
        var ex = Assert.ThrowsAsync<ModuleException>(() => ParseAsync("a," + new string('x', 2000), maxFieldChars: 1000));

        Assert.That(ex!.Kind, Is.EqualTo(ErrorKind.TooLarge));
    }

    [Test]
    public void ReadAsync_WhenARecordHasTooManyFields_ThrowsInvalid()
    {
        var ex = Assert.ThrowsAsync<ModuleException>(() => ParseAsync(new string(',', 200)));

        Assert.That(ex!.Message, Does.Contain("more than 100 fields"));
    }

    /// <summary>Hands out at most N characters per read, to put every state change on a buffer boundary.</summary>
    private sealed class TrickleReader(string text, int chunk) : TextReader
    {
        private int _position;

        public override ValueTask<int> ReadAsync(Memory<char> buffer, CancellationToken cancellationToken = default)
        {
            var count = Math.Min(Math.Min(chunk, buffer.Length), text.Length - _position);
            text.AsSpan(_position, count).CopyTo(buffer.Span);
            _position += count;
            return ValueTask.FromResult(count);
        }
    }
}
