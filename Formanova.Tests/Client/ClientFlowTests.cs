using Formanova.Client.Sample;
using Formanova.Tests.Workflows;

namespace Formanova.Tests.Client;

/// <summary>The sample program's flow (samples/Formanova.Client.Sample) through the client against the real host and workflows.</summary>
[Category("Integration")]
public sealed class ClientFlowTests
{
    [Test]
    public async Task SampleFlow_AgainstTheHost_ImportsTrainsWithApprovalPredictsAndExportsABatch()
    {
        using var factory = WorkflowTestKit.Factory();
        using var client = ClientKit.Create(factory);
        using var log = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));

        var outcome = await SampleFlow.RunAsync(client, log, timeout.Token);

        TestContext.Out.WriteLine(log.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(outcome.TrainingStatus, Is.EqualTo("completed"));
            Assert.That(outcome.PredictedLabel, Is.Not.Null);
            Assert.That(outcome.BatchStatus, Is.EqualTo("completed"));
            Assert.That(outcome.ExportedRows, Is.EqualTo(300), "one result row per dataset row");
        });
    }
}
