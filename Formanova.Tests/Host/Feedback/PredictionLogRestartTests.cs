using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Data;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Data;
using Formanova.Tests.Support;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Feedback;

/// <summary>A host stopped right after answering keeps every prediction it answered: stopping writes the log's queue first.</summary>
[Category("Integration")]
public sealed class PredictionLogRestartTests
{
    [TestCaseSource(typeof(TestDatabase), nameof(TestDatabase.ProviderCases))]
    public async Task Stop_WhenPredictionsWereJustAnswered_LogsEveryOne(DatabaseProvider provider)
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        var ids = new List<string>();
        using (var factory = new FormanovaFactory(database.Settings.Concat(Settings())))
        {
            var client = await ClientAsync(factory);
            var batch = await client.PostAsJsonAsync(
                $"/api/v1/models/{DemoModel}/predict/batch",
                new { rows = Enumerable.Repeat(ValidInput(), 300).ToList(), useCache = false });
            var body = (await batch.Content.ReadFromJsonAsync<JsonObject>())!;
            ids.AddRange(body["predictions"]!.AsArray().Select(p => (string)p!["predictionId"]!));
        }

        await using var restarted = await DataHarness.CreateOnAsync(database, TimeProvider.System);
        var results = await restarted.Data.RecordFeedbackAsync([.. ids.Select(id => new FeedbackItem(id, null, null, null, "true", null))]);

        Assert.That(results.Select(r => r.Status), Is.All.EqualTo(FeedbackStatus.Recorded));
    }
}
