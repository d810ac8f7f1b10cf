using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Data.Import;

/// <summary>
/// An RFC 4180 record reader over a <see cref="TextReader"/>: quoted fields with doubled quotes, embedded line
/// breaks, CRLF or LF endings and any single-character delimiter. It holds one buffer and the current record,
/// never the file; a field or record beyond the limits fails the file instead of growing without bound.
/// </summary>
internal sealed class CsvParser(TextReader reader, char delimiter, int maxFieldChars, int maxFields)
{
    private enum State
    {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }

    private readonly char[] _buffer = new char[64 * 1024];
    private readonly System.Buffers.SearchValues<char> _specials = System.Buffers.SearchValues.Create([delimiter, '\r', '\n', '"']);
    private char[] _field = new char[256];
    private int _fieldLength;
    private int _position;
    private int _length;
    private bool _skipLineFeed;
    private bool _eof;

    public List<string> Fields { get; } = [];

    /// <summary>The physical line (1-based) on which the current record starts.</summary>
    public long RecordLine { get; private set; }

    private long _line = 1;

    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken)
    {
        Fields.Clear();
        _fieldLength = 0;
        if (!await EnsureDataAsync(cancellationToken))
        {
            return false;
        }

        // A CRLF split across two buffers leaves its LF for this record; it is not a blank line.
        if (_skipLineFeed && _buffer[_position] == '\n')
        {
            _position++;
            _skipLineFeed = false;
            if (!await EnsureDataAsync(cancellationToken))
            {
                return false;
            }
        }

        _skipLineFeed = false;
        RecordLine = _line;
        var state = State.FieldStart;
        var quoteLine = _line;
        while (true)
        {
            if (_position >= _length && !await EnsureDataAsync(cancellationToken))
            {
                if (state == State.Quoted)
                {
                    throw Malformed($"Unbalanced quotes: the quoted field that starts on line {quoteLine} is never closed.");
                }

                EndField();
                return true;
            }

            while (_position < _length)
            {
                var c = _buffer[_position++];
                switch (state)
                {
                    case State.FieldStart:
                        if (c == '"')
                        {
                            state = State.Quoted;
                            quoteLine = _line;
                        }
                        else if (c == delimiter)
                        {
                            EndField();
                        }
                        else if (c is '\r' or '\n')
                        {
                            EndLine(c);
                            EndField();
                            return true;
                        }
                        else
                        {
                            _position--;
                            state = State.Unquoted;
                        }

                        break;
                    case State.Unquoted:
                        if (c != delimiter && c is not ('\r' or '\n' or '"'))
                        {
                            // Most fields are unquoted: copy the run up to the next special character in one step.
                            Append(c);
                            var run = _buffer.AsSpan(_position, _length - _position);
                            var stop = run.IndexOfAny(_specials);
                            var take = stop < 0 ? run.Length : stop;
                            AppendRun(run[..take]);
                            _position += take;
                            break;
                        }

                        if (c == delimiter)
                        {
                            EndField();
                            state = State.FieldStart;
                        }
                        else if (c is '\r' or '\n')
                        {
                            EndLine(c);
                            EndField();
                            return true;
                        }
                        else
                        {
                            throw Malformed(
                                $"A quote appears inside an unquoted field on line {_line} (field {Fields.Count + 1}); "
                                + "quote the whole field and double the quotes inside it.");
                        }

                        break;
                    case State.Quoted:
                        if (c == '"')
                        {
                            state = State.QuoteInQuoted;
                        }
                        else
                        {
                            if (c == '\n')
                            {
                                _line++;
                            }

                            Append(c);
                            var run = _buffer.AsSpan(_position, _length - _position);
                            var stop = run.IndexOfAny('"', '\n');
                            var take = stop < 0 ? run.Length : stop;
                            AppendRun(run[..take]);
                            _position += take;
                        }

                        break;
                    case State.QuoteInQuoted:
                        if (c == '"')
                        {
                            Append('"');
                            state = State.Quoted;
                        }
                        else if (c == delimiter)
                        {
                            EndField();
                            state = State.FieldStart;
                        }
                        else if (c is '\r' or '\n')
                        {
                            EndLine(c);
                            EndField();
                            return true;
                        }
                        else
                        {
                            throw Malformed(
                                $"Unbalanced quotes: '{c}' follows the closing quote of a field on line {_line} "
                                + $"(field {Fields.Count + 1}).");
                        }

                        break;
                }
            }
        }
    }

    private void EndLine(char c)
    {
        _line++;
        _skipLineFeed = c == '\r';
        if (_skipLineFeed && _position < _length && _buffer[_position] == '\n')
        {
            _position++;
            _skipLineFeed = false;
        }
    }

    private void Append(char c)
    {
        if (_fieldLength == _field.Length)
        {
            if (_fieldLength >= maxFieldChars)
            {
                throw FieldTooLong(maxFieldChars);
            }

            Array.Resize(ref _field, Math.Min(maxFieldChars, _field.Length * 2));
        }

        _field[_fieldLength++] = c;
    }

    private void AppendRun(ReadOnlySpan<char> run)
    {
        if (run.IsEmpty)
        {
            return;
        }

        if (_fieldLength + run.Length > _field.Length)
        {
            if (_fieldLength + run.Length > maxFieldChars)
            {
                throw FieldTooLong(maxFieldChars);
            }

            Array.Resize(ref _field, Math.Min(maxFieldChars, Math.Max(_field.Length * 2, _fieldLength + run.Length)));
        }

        run.CopyTo(_field.AsSpan(_fieldLength));
        _fieldLength += run.Length;
    }

    private void EndField()
    {
        if (Fields.Count >= maxFields)
        {
            throw Malformed($"Line {RecordLine} has more than {maxFields} fields.");
        }

        Fields.Add(_fieldLength == 0 ? "" : new string(_field, 0, _fieldLength));
        _fieldLength = 0;
    }

    private async ValueTask<bool> EnsureDataAsync(CancellationToken cancellationToken)
    {
        if (_position < _length)
        {
            return true;
        }

        if (_eof)
        {
            return false;
        }

        _length = await reader.ReadAsync(_buffer.AsMemory(), cancellationToken);
        _position = 0;
        _eof = _length == 0;
        return !_eof;
    }

    private static ModuleException Malformed(string message) => ModuleException.Invalid("content", $"Malformed CSV: {message}");

    private ModuleException FieldTooLong(int maxFieldChars) => new(
        ErrorKind.TooLarge,
        $"A field on line {_line} (field {Fields.Count + 1}) is longer than {maxFieldChars} characters (Data:Import:MaxFieldChars).");
}
