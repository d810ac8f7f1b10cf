using System.Runtime.CompilerServices;
using Formanova.Host.Workflows.Batch;
using Formanova.Host.Workflows.Experiments;
using Formanova.Host.Workflows.Monitoring;
using Formanova.Host.Workflows.Processing;
using Formanova.Host.Workflows.Promotion;
using Formanova.Host.Workflows.Training;
using Formanova.Host.Workflows.Webhooks;
using Formanova.Tests.DevServer;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Worker;

namespace Formanova.Tests.Workflows.Fast;

/// <summary>
/// The fast tier: the host's workflows on the in-memory DevServer with the real SDK, against
/// <see cref="StubActivities"/> instead of the modules: no host, no database, no model training.
/// </summary>
public abstract class StubWorkerFixture : DevServerFixture
{
    /// <summary>Registers every workflow, the stubs and the host's pure (static) activities.</summary>
    internal static void Register(TemporalWorkerOptions options, StubActivities stubs) => options
        .AddWorkflow<ProcessingWorkflow>()
        .AddWorkflow<ModelTrainingWorkflow>()
        .AddWorkflow<ModelPromotionSaga>()
        .AddWorkflow<BatchInferenceWorkflow>()
        .AddWorkflow<WebhookDeliveryWorkflow>()
        .AddWorkflow<ModelMonitoringWorkflow>()
        .AddWorkflow<ExperimentWorkflow>()
        .AddAllActivities(stubs)
        .AddActivity(ProcessingActivities.AggregateResults)
        .AddActivity(ProcessingActivities.PostProcess)
        .AddActivity(TrainingActivities.ValidateModel);

    /// <summary>Runs <paramref name="body"/> with a worker on a new queue; the queue is its argument.</summary>
    internal Task WithWorkerAsync(StubActivities stubs, Func<string, Task> body)
    {
        var queue = NewQueue();
        return RunWorkerAsync(queue, o => Register(o, stubs), () => body(queue));
    }

    internal static WorkflowOptions Start(string queue, string prefix = "wf") => new($"{prefix}-{Guid.NewGuid():N}", queue);

    /// <summary>Polls the run's history until an event of <paramref name="type"/> appears.</summary>
    internal static async Task UntilEventAsync(WorkflowHandle handle, EventType type)
    {
        await WaitUntilAsync(async () => (await handle.FetchHistoryAsync()).Events.Any(e => e.EventType == type));
    }
}

/// <summary>
/// The histories the replay test (<see cref="HistoryReplayTests"/>) replays, one per workflow type, in
/// Formanova.Tests/Workflows/Histories. Run the fast tier with FORMANOVA_RECORD_HISTORIES=1 to record them again
/// (docs/workflows.md, "Replay and patching").
/// </summary>
internal static class RecordedHistories
{
    public static bool Recording => Environment.GetEnvironmentVariable("FORMANOVA_RECORD_HISTORIES") == "1";

    public static string Directory([CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(here))!, "Histories");

    /// <summary>Writes the run's history as {name}.json when recording; otherwise does nothing.</summary>
    public static async Task SaveIfRecordingAsync(WorkflowHandle handle, string name)
    {
        if (!Recording)
        {
            return;
        }

        var history = await handle.FetchHistoryAsync();
        await File.WriteAllTextAsync(Path.Combine(Directory(), $"{name}.json"), history.ToJson());
    }
}
