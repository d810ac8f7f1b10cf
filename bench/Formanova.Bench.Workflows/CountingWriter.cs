using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

/// <summary>
/// Stands in for standard output: counts the UTF-8 bytes and lines written to it, per logger category as well (the
/// JSON console line's <c>Category</c>), and keeps the last few lines to show one.
/// </summary>
internal sealed partial class CountingWriter : TextWriter
{
    private readonly object _gate = new();
    private readonly StringBuilder _current = new();
    private readonly Queue<string> _recent = new();
    private readonly Dictionary<string, (long Bytes, long Lines)> _categories = [];
    private long _bytes;
    private long _lines;
    private long _lineBytes;

    public override Encoding Encoding => Encoding.UTF8;

    public (long Bytes, long Lines) Snapshot()
    {
        lock (_gate)
        {
            return (_bytes, _lines);
        }
    }

    /// <summary>Bytes and lines so far by logger category (<c>(not JSON)</c> for lines that name none).</summary>
    public Dictionary<string, (long Bytes, long Lines)> Categories()
    {
        lock (_gate)
        {
            return new Dictionary<string, (long Bytes, long Lines)>(_categories);
        }
    }

    public string? LastLine(Func<string, bool> match)
    {
        lock (_gate)
        {
            return _recent.LastOrDefault(match);
        }
    }

    /// <summary>The console logger writes from its own queue; wait until it has been quiet for a moment (at most 10 s).</summary>
    public async Task SettleAsync()
    {
        var deadline = Stopwatch.StartNew();
        var last = Snapshot().Bytes;
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(200);
            var now = Snapshot().Bytes;
            if (now == last)
            {
                return;
            }

            last = now;
        }
    }

    public override void Write(char value) => Write(new ReadOnlySpan<char>(in value));

    public override void Write(string? value) => Write(value.AsSpan());

    public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

    public override void Write(ReadOnlySpan<char> buffer)
    {
        lock (_gate)
        {
            var rest = buffer;
            while (!rest.IsEmpty)
            {
                var newline = rest.IndexOf('\n');
                var segment = newline < 0 ? rest : rest[..(newline + 1)];
                var bytes = Encoding.UTF8.GetByteCount(segment);
                _bytes += bytes;
                _lineBytes += bytes;
                var text = newline < 0 ? segment : segment[..^1];
                _current.Append(text[..Math.Min(text.Length, Math.Max(0, 4096 - _current.Length))]);
                if (newline >= 0)
                {
                    EndLine();
                }

                rest = rest[segment.Length..];
            }
        }
    }

    private void EndLine()
    {
        var line = _current.ToString();
        var category = CategoryField().Match(line) is { Success: true } match ? match.Groups[1].Value : "(not JSON)";
        var (bytes, lines) = _categories.GetValueOrDefault(category);
        _categories[category] = (bytes + _lineBytes, lines + 1);
        _lines++;
        _lineBytes = 0;
        _recent.Enqueue(line);
        _current.Clear();
        if (_recent.Count > 50)
        {
            _recent.Dequeue();
        }
    }

    [GeneratedRegex("\"Category\":\"([^\"]*)\"")]
    private static partial Regex CategoryField();
}
