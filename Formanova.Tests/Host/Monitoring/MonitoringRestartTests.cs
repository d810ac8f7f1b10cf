using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Host.Workflows;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Monitoring;

/// <summary>
/// A model's monitoring outlives the host process: the schedule is Temporal's (its histories on disk here), the
/// policy the database's, and a new process counts the model's traffic again from the stored policies.
/// </summary>
[Category("Integration")]
public sealed class MonitoringRestartTests
{
    [Test]
    public async Task ScheduledCheck_AfterAHostRestart_StillRunsAndCountsTheNewProcesssTraffic()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var settings = new Dictionary<string, string?>(
            Settings(("Temporal:Embedded:StoragePath", Path.Combine(database.DataDirectory, "temporal.db")))
                .Concat(database.Settings));
        using (var first = new FormanovaFactory(settings))
        {
            var client = await ClientAsync(first);
            var put = await client.PutAsJsonAsync(
                $"/api/v1/models/{DemoModel}/monitoring/policy", new { intervalMinutes = 600, thresholds = new { minRows = 1 } });
            Assert.That(put.StatusCode, Is.EqualTo(HttpStatusCode.OK), await put.Content.ReadAsStringAsync());
        }

        using var second = new FormanovaFactory(settings);
        var restarted = await ClientAsync(second);
        var monitoring = await ReadAsync(await restarted.GetAsync($"/api/v1/models/{DemoModel}/monitoring"));
        Assert.That((string?)monitoring["schedule"], Is.EqualTo($"model-monitoring-{DemoModel}"));
        Assert.That(monitoring["nextChecks"]!.AsArray(), Is.Not.Empty, "the schedule survived the restart");
        Assert.That(monitoring["checks"]!.AsArray(), Is.Empty);

        var predicted = await restarted.PostAsJsonAsync($"/api/v1/models/{DemoModel}/predict", new { inputs = ValidInput() });
        Assert.That(predicted.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        // A firing now, as the schedule's own action: the interval is long so that only this one runs.
        var gateway = second.Services.GetRequiredService<WorkflowGateway>();
        await gateway.Client.GetScheduleHandle($"model-monitoring-{DemoModel}").TriggerAsync();

        JsonObject? latest = null;
        await UntilAsync(async () =>
        {
            var view = await ReadAsync(await restarted.GetAsync($"/api/v1/models/{DemoModel}/monitoring"));
            latest = view["latest"] as JsonObject;
            return latest is not null;
        }, TimeSpan.FromSeconds(60), "the scheduled check");
        Assert.That((long)latest!["rows"]!, Is.EqualTo(1), "the restarted process counted its prediction: " + latest.ToJsonString());
    }
}
