using System.Buffers;
using System.Text;
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
/// console formatter (the same JSON or simple output as before), queued without a lock, and the writer drains
/// everything queued into one buffered write, flushing whenever the queue runs dry: one line alone is written at
/// once, and a burst shares a system call. Registered under the <c>Console</c> alias, so <c>Logging:Console:*</c>
/// settings and filters apply unchanged.
/// </summary>
[ProviderAlias("Console")]
internal sealed class BatchedConsoleLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private const int BufferChars = 32 * 1024;

    private readonly Channel<Chars> _lines;
    private readonly ConsoleFormatter _formatter;
    private readonly Task _writer;
    private readonly int _capacity;
    private int _queued;
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public BatchedConsoleLoggerProvider(IOptionsMonitor<ConsoleLoggerOptions> options, IEnumerable<ConsoleFormatter> formatters)
        : this(options.CurrentValue, formatters, Console.OpenStandardOutput())
    {
    }

    internal BatchedConsoleLoggerProvider(ConsoleLoggerOptions options, IEnumerable<ConsoleFormatter> formatters, Stream output)
    {
        var name = options.FormatterName ?? ConsoleFormatterNames.Simple;
        _formatter = formatters.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? formatters.First(f => f.Name == ConsoleFormatterNames.Simple);

        // Unbounded for the lock-free write of a single-reader channel; the bound is kept by a counter instead. A full
        // queue makes the logging thread wait, as the framework's logger does by default: lines are never dropped
        // silently. The writer drains far faster than requests fill it, so this is the overload case only.
        _capacity = Math.Max(options.MaxQueueLength, 1);
        _lines = Channel.CreateUnbounded<Chars>(new UnboundedChannelOptions { SingleReader = true });
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

    private void Enqueue(Chars line)
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
        await using var writer = new StreamWriter(output, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), BufferChars);
        var reader = _lines.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            try
            {
                while (reader.TryRead(out var line))
                {
                    Interlocked.Decrement(ref _queued);
                    writer.Write(line.Buffer, 0, line.Length);
                    line.Return();
                }

                writer.Flush();
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

            var writer = _buffer ??= new StringWriter();
            var entry = new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter);
            provider._formatter.Write(entry, provider._scopes, writer);
            var builder = writer.GetStringBuilder();
            if (builder.Length == 0)
            {
                return;
            }

            // A pooled copy rather than a string: the line lives only until the writer has written it.
            var line = new Chars(ArrayPool<char>.Shared.Rent(builder.Length), builder.Length);
            builder.CopyTo(0, line.Buffer, line.Length);
            builder.Clear();
            if (builder.Capacity > 16 * 1024)
            {
                // One huge line (a long stack trace) must not pin its buffer on this thread for ever.
                builder.Capacity = 1024;
            }

            provider.Enqueue(line);
        }
    }

    /// <summary>One formatted line in a buffer rented from the shared pool, returned once it is written or dropped.</summary>
    private readonly record struct Chars(char[] Buffer, int Length)
    {
        public void Return() => ArrayPool<char>.Shared.Return(Buffer);
    }
}
