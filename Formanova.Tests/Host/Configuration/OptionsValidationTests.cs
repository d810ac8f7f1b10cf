using Formanova.Tests.Support;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Host.Configuration;

/// <summary>Every options class is validated at start-up down to its nested sections, through the real host.</summary>
[Category("Integration")]
public sealed class OptionsValidationTests
{
    [TestCase("Workflows:Retry:MaximumAttempts", "0", "Workflows.Retry.MaximumAttempts")]
    [TestCase("Data:Import:MaxRows", "0", "Data.Import.MaxRows")]
    [TestCase("Event:Webhooks:Dispatcher:Concurrency", "0", "Event.Webhooks.Dispatcher.Concurrency")]
    [TestCase("Model:Inference:BatchSize", "0", "Model.Inference.BatchSize")]
    [TestCase("RateLimiting:PerKey:Burst", "0", "RateLimiting.PerKey.Burst")]
    [TestCase("Cache:L2:TimeoutMilliseconds", "1", "Cache.L2.TimeoutMilliseconds")]
    [TestCase("Temporal:Embedded:Port", "70000", "Temporal.Embedded.Port")]
    public void Start_WhenANestedValueIsOutOfRange_FailsNamingTheSetting(string key, string value, string named)
    {
        using var factory = new FormanovaFactory([new(key, value)]);

        var error = Assert.Catch(() => _ = factory.Services);

        var validation = Flatten(error!).OfType<OptionsValidationException>().FirstOrDefault();
        Assert.That(validation, Is.Not.Null, error!.ToString());
        Assert.That(validation!.Message, Does.Contain(named));
    }

    [Test]
    public void Start_WhenEveryValueIsInRange_Succeeds()
    {
        using var factory = new FormanovaFactory([new("Workflows:Retry:MaximumAttempts", "1"), new("Model:Bootstrap:Enabled", "false")]);

        Assert.That(() => factory.Services, Throws.Nothing);
    }

    private static IEnumerable<Exception> Flatten(Exception error)
    {
        for (Exception? current = error; current is not null; current = current.InnerException)
        {
            yield return current;
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten))
                {
                    yield return inner;
                }
            }
        }
    }
}
