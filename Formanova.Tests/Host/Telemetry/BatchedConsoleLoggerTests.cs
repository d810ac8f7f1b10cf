using System.Text.Json;
using Formanova.Host.Api;
using Formanova.Host.Telemetry;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Formanova.Tests.Host.Telemetry;

public sealed class BatchedConsoleLoggerTests
{
    [Test]
    public void Log_FromManyThreadsThroughASmallQueue_WritesEveryLineWholeAndInOrderPerThread()
    {
        var output = new MemoryStream();
        const int threads = 8, perThread = 2_000;
        using (var provider = new BatchedConsoleLoggerProvider(Json(queue: 16), Formatters(), output))
        {
            var logger = provider.CreateLogger("bench.category");
            Parallel.For(0, threads, t =>
            {
                for (var i = 0; i < perThread; i++)
                {
                    logger.LogInformation("thread {Thread} line {Line}", t, i);
                }
            });
        }

        var lines = System.Text.Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(threads * perThread));
        var parsed = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(parsed.Select(l => l.GetProperty("Category").GetString()).Distinct(), Is.EqualTo(new[] { "bench.category" }));
        foreach (var thread in parsed.GroupBy(l => l.GetProperty("State").GetProperty("Thread").GetInt32()))
        {
            var order = thread.Select(l => l.GetProperty("State").GetProperty("Line").GetInt32());
            Assert.That(order, Is.EqualTo(Enumerable.Range(0, perThread)));
        }
    }

    [Test]
    public async Task Log_WhenOneLineIsLoggedAlone_ItReachesTheStreamWithoutWaitingForMore()
    {
        var output = new FlushSignallingStream();
        using var provider = new BatchedConsoleLoggerProvider(Json(), Formatters(), output);

        provider.CreateLogger("single").LogWarning("only line");

        await output.Flushed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(System.Text.Encoding.UTF8.GetString(output.ToArray()), Does.Contain("\"Message\":\"only line\""));
    }

    [Test]
    [Category("Integration")]
    public void Host_WhenBuilt_LogsToTheConsoleThroughTheBatchedProviderOnly()
    {
        using var factory = new FormanovaFactory();

        var providers = factory.Services.GetServices<ILoggerProvider>().Select(p => p.GetType()).ToList();

        Assert.That(providers, Does.Contain(typeof(BatchedConsoleLoggerProvider)));
        Assert.That(providers, Does.Not.Contain(typeof(ConsoleLoggerProvider)));
    }

    [TestCase(true, "yyyy-MM-ddTHH:mm:ss.fffZ", true)]
    [TestCase(false, null, false)]
    [TestCase(true, "HH:mm:ss", false)]
    public void Log_WhenTheStateWritesItsOwnJson_WritesTheLineTheJsonFormatterWrites(bool scopes, string? timestamp, bool utc)
    {
        var options = new JsonConsoleFormatterOptions { IncludeScopes = scopes, TimestampFormat = timestamp, UseUtcTimestamp = utc };
        var line = new RequestLogMiddleware.Line(
            NullLogger.Instance,
            LogLevel.Warning,
            "POST",
            "/api/v1/models/{name}/predict",
            404,
            12.34,
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "k-\"1\"+é");

        var direct = WriteOne(options, line, direct: true);
        var formatted = WriteOne(options, line, direct: false);

        // The formatter path renders the message with the logging call's delegate, the direct one with the state's own
        // TryFormatMessage: the two messages tell which path wrote the line, and everything else must be the same.
        Assert.That(direct.GetProperty("Message").GetString(), Is.EqualTo(line.ToString()));
        Assert.That(formatted.GetProperty("Message").GetString(), Is.EqualTo("(the delegate's message)"));
        Assert.That(Without(direct, "Timestamp", "Message"), Is.EqualTo(Without(formatted, "Timestamp", "Message")));
        Assert.That(Names(direct), Is.EqualTo(Names(formatted)));
        Assert.That(direct.TryGetProperty("Timestamp", out var stamp), Is.EqualTo(timestamp is not null));
        if (timestamp is not null)
        {
            Assert.That(stamp.GetString()!, Has.Length.EqualTo(formatted.GetProperty("Timestamp").GetString()!.Length));
        }
    }

    [Test]
    public void Log_WhenAScopeIsOpen_LeavesTheLineToTheFormatterSoTheScopeIsWritten()
    {
        var output = new MemoryStream();
        var options = new JsonConsoleFormatterOptions { IncludeScopes = true };
        using (var provider = new BatchedConsoleLoggerProvider(Json(), Formatters(options), output, options))
        {
            var logger = provider.CreateLogger("scoped");
            using (logger.BeginScope("outer {Request}", 7))
            {
                logger.Log(LogLevel.Information, default, Line(), null, static (l, _) => l.ToString());
            }
        }

        var root = JsonDocument.Parse(System.Text.Encoding.UTF8.GetString(output.ToArray())).RootElement;
        Assert.That(root.GetProperty("Scopes").GetArrayLength(), Is.EqualTo(1));
    }

    private static RequestLogMiddleware.Line Line() =>
        new(NullLogger.Instance, LogLevel.Information, "GET", "/api/v1/keys/me", 200, 0.5, "trace", "key");

    private static JsonElement WriteOne(JsonConsoleFormatterOptions options, RequestLogMiddleware.Line line, bool direct)
    {
        var output = new MemoryStream();
        using (var provider = new BatchedConsoleLoggerProvider(Json(), Formatters(options), output, direct ? options : null))
        {
            provider.CreateLogger("Formanova.Host.Api.RequestLogMiddleware")
                .Log(line.Level, new EventId(1, "Request"), line, null, static (_, _) => "(the delegate's message)");
        }

        var text = System.Text.Encoding.UTF8.GetString(output.ToArray());
        Assert.That(text, Does.EndWith(Environment.NewLine));
        return JsonDocument.Parse(text).RootElement;
    }

    private static string Without(JsonElement line, params string[] members) =>
        JsonSerializer.Serialize(line.EnumerateObject().Where(p => !members.Contains(p.Name)).ToDictionary(p => p.Name, p => p.Value));

    private static List<string> Names(JsonElement line) => [.. line.EnumerateObject().Select(p => p.Name)];

    private static List<ConsoleFormatter> Formatters(JsonConsoleFormatterOptions? options = null) =>
    [
        .. new ServiceCollection()
            .AddLogging(b => b.AddJsonConsole(o =>
            {
                o.IncludeScopes = options?.IncludeScopes ?? false;
                o.TimestampFormat = options?.TimestampFormat;
                o.UseUtcTimestamp = options?.UseUtcTimestamp ?? false;
            }))
            .BuildServiceProvider()
            .GetServices<ConsoleFormatter>(),
    ];

    private static ConsoleLoggerOptions Json(int queue = 2500) =>
        new() { FormatterName = ConsoleFormatterNames.Json, MaxQueueLength = queue };

    private sealed class FlushSignallingStream : MemoryStream
    {
        public TaskCompletionSource Flushed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Flush()
        {
            base.Flush();
            if (Length > 0)
            {
                Flushed.TrySetResult();
            }
        }
    }
}
