using Formanova.Modules.Event;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Host.Dashboard.Events;

/// <summary>Reads the tail of the event log through <see cref="IEventModule"/>, filtered as the API's listing filters.</summary>
internal sealed class EventTailReader(IEventModule events)
{
    /// <summary>How far back from the newest event the tail looks.</summary>
    public const int Window = 500;

    /// <summary>How many of the matching events it shows.</summary>
    public const int Shown = 50;

    public async Task<EventTailModel> ReadAsync(string? type, string? source, CancellationToken cancellationToken)
    {
        try
        {
            var latest = await events.LatestSequenceAsync(cancellationToken);
            var page = await events.ListAsync(
                new EventQuery(Math.Max(0, latest - Window), type is null ? null : [type], source, Window),
                cancellationToken);
            return new EventTailModel([.. page.Items.Reverse().Take(Shown)], type, source, Window, null);
        }
        catch (ModuleException ex)
        {
            return new EventTailModel([], type, source, Window, ex.Message);
        }
    }

    /// <summary>The event types the workflows and modules publish, for the filter's choices.</summary>
    public static readonly IReadOnlyList<string> KnownTypes =
    [
        IEventModule.WorkflowStarted,
        IEventModule.ProcessingCompleted,
        IEventModule.WorkflowCompleted,
        IEventModule.WorkflowFailed,
        IEventModule.ModelRegistered,
        IEventModule.ModelActivated,
        IEventModule.ModelFallback,
        IEventModule.ModelPromotionRolledBack,
        IEventModule.TrainingProgress,
        IEventModule.TrainingFailed,
        IEventModule.DatasetImported,
        IEventModule.ModelDriftDetected,
        IEventModule.ModelPerformanceDegraded,
        IEventModule.ModelRetrained,
        IEventModule.ExperimentStarted,
        IEventModule.ExperimentDecided,
        IEventModule.ExperimentRolledBack,
        IEventModule.ExperimentStopped,
    ];
}
