using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Telemetry;

/// <summary>
/// The console log, written in batches. The framework's console logger hands each line to one writer thread that
/// writes it to stdout with its own system call, and every logging thread takes the same lock to queue a line. At a
/// few thousand requests a second (one request line each) the writer fell behind, its queue filled, and request
/// threads spun and waited on that lock: the largest single cost in a profile of an authenticated GET
/// (docs/benchmarks.md, "The shipped host"). Here a line is formatted on the caller's thread by the configured
/// console formatter (the same JSON or simple output as before), encoded to UTF-8, queued without a lock, and the
/// writer drains everything queued into one buffered write, flushing whenever the queue runs dry: one line alone is
/// written at once, and a burst shares a system call. A state that writes its own JSON (<see cref="IUtf8LogState"/>)
/// skips the formatter when the JSON one is configured. Registered under the <c>Console</c> alias, so
/// <c>Logging:Console:*</c> settings and filters apply unchanged.
/// </summary>
[ProviderAlias("Console")]
internal sealed class BatchedConsoleLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private const int BufferBytes = 32 * 1024;
    private static readonly byte[] NewLine = Encoding.UTF8.GetBytes(Environment.NewLine);

    private readonly Channel<Utf8Line> _lines;
    private readonly ConsoleFormatter _formatter;
    private readonly JsonConsoleFormatterOptions? _json;
    private readonly Task _writer;
    private readonly int _capacity;
    private int _queued;
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public BatchedConsoleLoggerProvider(
        IOptionsMonitor<ConsoleLoggerOptions> options,
        IEnumerable<ConsoleFormatter> formatters,
        IOptionsMonitor<JsonConsoleFormatterOptions> json)
        : this(options.CurrentValue, formatters, Console.OpenStandardOutput(), json.CurrentValue)
    {
    }

    internal BatchedConsoleLoggerProvider(
        ConsoleLoggerOptions options,
        IEnumerable<ConsoleFormatter> formatters,
        Stream output,
        JsonConsoleFormatterOptions? json = null)
    {
        var name = options.FormatterName ?? ConsoleFormatterNames.Simple;
        _formatter = formatters.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? formatters.First(f => f.Name == ConsoleFormatterNames.Simple);

        // Only the framework's own JSON formatter, and its compact form, is written directly; anything else (another
        // formatter, a custom one registered under the name, indented output) goes through the formatter.
        var framework = _formatter.GetType().Assembly == typeof(ConsoleFormatter).Assembly;
        _json = framework && _formatter.Name == ConsoleFormatterNames.Json && json is { JsonWriterOptions.Indented: false } ? json : null;

        // Unbounded for the lock-free write of a single-reader channel; the bound is kept by a counter instead. A full
        // queue makes the logging thread wait, as the framework's logger does by default: lines are never dropped
        // silently. The writer drains far faster than requests fill it, so this is the overload case only.
        _capacity = Math.Max(options.MaxQueueLength, 1);
        _lines = Channel.CreateUnbounded<Utf8Line>(new UnboundedChannelOptions { SingleReader = true });
        _writer = Task.Run(() => WriteAsync(output));
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    /// <summary>Writes what is queued and stops: on shutdown every line logged before it is on stdout.</summary>
    public void Dispose()
    {
        _lines.Writer.TryComplete();
        _writer.Wait(TimeSpan.FromSeconds(5));
    }

    private void Enqueue(Utf8Line line)
    {
        if (Interlocked.Increment(ref _queued) > _capacity)
        {
            var wait = default(SpinWait);
            while (Volatile.Read(ref _queued) > _capacity && !_writer.IsCompleted)
            {
                wait.SpinOnce(sleep1Threshold: 10);
            }
        }

        if (!_lines.Writer.TryWrite(line))
        {
            // Completed on shutdown: the line is dropped, as the framework's logger drops it.
            Interlocked.Decrement(ref _queued);
            line.Return();
        }
    }

    private async Task WriteAsync(Stream output)
    {
        // Straight to the stdout stream: Console.Out's own writer has a 256-character buffer and flushes every call,
        // so even a batch written through it would cost a system call per 256 characters.
        await using var buffered = new BufferedStream(output, BufferBytes);
        var reader = _lines.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            try
            {
                while (reader.TryRead(out var line))
                {
                    Interlocked.Decrement(ref _queued);
                    buffered.Write(line.Buffer, 0, line.Length);
                    line.Return();
                }

                buffered.Flush();
            }
            catch (IOException)
            {
                // stdout closed (the reading end of a pipe went away): nothing can be written any more, so drain.
                while (reader.TryRead(out var line))
                {
                    Interlocked.Decrement(ref _queued);
                    line.Return();
                }
            }
        }
    }

    private sealed class Logger(BatchedConsoleLoggerProvider provider, string category) : ILogger
    {
        [ThreadStatic]
        private static StringWriter? _buffer;

        [ThreadStatic]
        private static Encoder? _encoder;

        [ThreadStatic]
        private static JsonLine? _json;

        [ThreadStatic]
        private static ScopeFound? _found;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(
            LogLevel logLevel,
            EventId eventId,
            TState state,
            Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            if (exception is null && state is IUtf8LogState own && provider._json is { } options && !AnyScope(provider._scopes))
            {
                var json = _json is { } cached && cached.Options == options ? cached : _json = new JsonLine(options);
                provider.Enqueue(json.Write(own, logLevel, eventId, category));
                return;
            }

            var writer = _buffer ??= new StringWriter();
            var entry = new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter);
            provider._formatter.Write(entry, provider._scopes, writer);
            var builder = writer.GetStringBuilder();
            if (builder.Length == 0)
            {
                return;
            }

            // A pooled buffer rather than a string: the line lives only until the writer has written it.
            var encoder = _encoder ??= new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetEncoder();
            var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(builder.Length));
            var length = 0;
            foreach (var chunk in builder.GetChunks())
            {
                length += encoder.GetBytes(chunk.Span, bytes.AsSpan(length), flush: false);
            }

            length += encoder.GetBytes([], bytes.AsSpan(length), flush: true);
            builder.Clear();
            if (builder.Capacity > 16 * 1024)
            {
                // One huge line (a long stack trace) must not pin its buffer on this thread for ever.
                builder.Capacity = 1024;
            }

            provider.Enqueue(new Utf8Line(bytes, length));
        }

        // The JSON formatter writes the logging scopes too; a line with any is left to it.
        private static bool AnyScope(IExternalScopeProvider scopes)
        {
            var found = _found ??= new ScopeFound();
            found.Any = false;
            scopes.ForEachScope(static (_, f) => f.Any = true, found);
            return found.Any;
        }
    }

    private sealed class ScopeFound
    {
        public bool Any { get; set; }
    }

    /// <summary>
    /// One thread's writer of <see cref="IUtf8LogState"/> lines, the members in the JSON formatter's order: Timestamp
    /// (when a format is set), EventId, LogLevel, Category, Message, State (its message first), and Scopes (empty) when
    /// scopes are included.
    /// It lives as long as its thread, like the formatter's own buffers, so its writer is never disposed: it holds
    /// no resource but the buffer.
    /// </summary>
#pragma warning disable CA1001
    private sealed class JsonLine(JsonConsoleFormatterOptions options)
#pragma warning restore CA1001
    {
        private const int MessageChars = 512;
        private readonly ArrayBufferWriter<byte> _buffer = new(1024);
        private readonly Utf8JsonWriter _writer = new(Stream.Null, options.JsonWriterOptions);

        public JsonConsoleFormatterOptions Options { get; } = options;

        public Utf8Line Write(IUtf8LogState state, LogLevel level, EventId eventId, string category)
        {
            _buffer.ResetWrittenCount();
            _writer.Reset(_buffer);
            _writer.WriteStartObject();
            if (Options.TimestampFormat is { } format)
            {
                var now = Options.UseUtcTimestamp ? DateTimeOffset.UtcNow : DateTimeOffset.Now;
                Span<char> stamp = stackalloc char[64];
                if (now.TryFormat(stamp, out var written, format))
                {
                    _writer.WriteString("Timestamp", stamp[..written]);
                }
                else
                {
                    _writer.WriteString("Timestamp", now.ToString(format));
                }
            }

            _writer.WriteNumber("EventId", eventId.Id);
            _writer.WriteString("LogLevel", LevelName(level));
            _writer.WriteString("Category", category);
            Span<char> text = stackalloc char[MessageChars];
            ReadOnlySpan<char> message = state.TryFormatMessage(text, out var length) ? text[..length] : state.ToString();
            _writer.WriteString("Message", message);
            _writer.WriteStartObject("State");
            _writer.WriteString("Message", message);
            state.WriteFields(_writer);
            _writer.WriteEndObject();
            if (Options.IncludeScopes)
            {
                _writer.WriteStartArray("Scopes");
                _writer.WriteEndArray();
            }

            _writer.WriteEndObject();
            _writer.Flush();
            var json = _buffer.WrittenSpan;
            var bytes = ArrayPool<byte>.Shared.Rent(json.Length + NewLine.Length);
            json.CopyTo(bytes);
            NewLine.CopyTo(bytes.AsSpan(json.Length));
            return new Utf8Line(bytes, json.Length + NewLine.Length);
        }

        private static string LevelName(LogLevel level) => level switch
        {
            LogLevel.Trace => "Trace",
            LogLevel.Debug => "Debug",
            LogLevel.Information => "Information",
            LogLevel.Warning => "Warning",
            LogLevel.Error => "Error",
            LogLevel.Critical => "Critical",
            _ => level.ToString(),
        };
    }

    /// <summary>One line in UTF-8, in a buffer rented from the shared pool, returned once it is written or dropped.</summary>
    private readonly record struct Utf8Line(byte[] Buffer, int Length)
    {
        public void Return() => ArrayPool<byte>.Shared.Return(Buffer);
    }
}
