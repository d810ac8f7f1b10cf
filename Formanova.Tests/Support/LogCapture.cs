using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Formanova.Tests.Support;

/// <summary>
/// An <see cref="ILoggerProvider"/> that keeps every entry the host's log filters let through (register it with
/// <c>services.AddSingleton&lt;ILoggerProvider&gt;(capture)</c>), so a test can assert what was logged at which level.
/// </summary>
internal sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyList<Entry> Entries => _entries.ToList();

    /// <summary>The entries of one logger category (the class name).</summary>
    public IReadOnlyList<Entry> Of(string category) => _entries.Where(e => e.Category == category).ToList();

    public ILogger CreateLogger(string categoryName) => new Writer(this, categoryName);

    public void Dispose()
    {
    }

    /// <param name="Category"></param>

    /// <param name="Level"></param>
    /// <param name="Message"></param>    /// <param name="State">The message template's named values.</param>
    public sealed record Entry(string Category, LogLevel Level, string Message, IReadOnlyDictionary<string, object?> State);

    private sealed class Writer(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(
            LogLevel logLevel,
            EventId eventId,
            TState state,
            Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            var values = state as IEnumerable<KeyValuePair<string, object?>> ?? [];
            owner._entries.Enqueue(new Entry(category, logLevel, formatter(state, exception),
                values.GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.First().Value)));
        }
    }
}
