using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Formanova.Tests.Support;

/// <summary>
/// Renders every log entry with the host's own JSON console formatter (configured from Logging:Console, as in
/// production) into memory, so the test reads exactly the lines stdout would carry.
/// </summary>
internal sealed class JsonLogCapture : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<string> _lines = new();
    private ConsoleFormatter? _formatter;
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public IEnumerable<string> Lines => _lines;

    /// <summary>Registers the capture with the host's JSON formatter (for a factory's configureServices).</summary>
    public void AddTo(IServiceCollection services) =>
        services.AddSingleton<ILoggerProvider>(
            provider => Using(provider.GetServices<ConsoleFormatter>().Single(f => f.Name == ConsoleFormatterNames.Json)));

    public JsonLogCapture Using(ConsoleFormatter formatter)
    {
        _formatter = formatter;
        return this;
    }

    public ILogger CreateLogger(string categoryName) => new Writer(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class Writer(JsonLogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(
            LogLevel logLevel,
            EventId eventId,
            TState state,
            Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            using var text = new StringWriter();
            owner._formatter!.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter), owner._scopes, text);
            owner._lines.Enqueue(text.ToString().TrimEnd());
        }
    }
}
