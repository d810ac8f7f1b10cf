using System.Text.Json;
using Formanova.Host.Telemetry;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
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

    private static List<ConsoleFormatter> Formatters() =>
        [.. new ServiceCollection().AddLogging(b => b.AddJsonConsole()).BuildServiceProvider().GetServices<ConsoleFormatter>()];

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
