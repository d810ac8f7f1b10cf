using System.Runtime.CompilerServices;
using Formanova.Modules.Data;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Common;

/// <summary>
/// How a workflow ends when its code throws (docs/workflows.md, "Failures and bugs"). Expected failures close the
/// run: an activity that failed for good, an <see cref="ApplicationFailureException"/> the workflow raises itself
/// (validation, rejection, the cancel signal) and cancellation. A workflow catches exactly those
/// (<c>catch (Exception ex) when (RunFailure.ClosesRun(ex))</c>), records them, stores its outcome and rethrows.
/// Anything else (a NullReferenceException, an InvalidOperationException) is a bug in the workflow code: it is not
/// caught, so the SDK fails only the workflow task and retries it; the run stays open and a deployed fix carries it
/// on from its history.
/// </summary>
internal sealed record RunFailure(bool Cancelled, ErrorRecord Error)
{
    public ResultStatus Status => Cancelled ? ResultStatus.Cancelled : ResultStatus.Failed;

    /// <summary>The stage a closed run shows.</summary>
    public string Stage => Cancelled ? "cancelled" : "failed";

    /// <summary>The stage each failure that closed a run was recorded at, for the worker's failed-run log line.</summary>
    private static readonly ConditionalWeakTable<Exception, string> Stages = new();

    public static bool ClosesRun(Exception ex) => ex is FailureException || TemporalException.IsCanceledException(ex);

    /// <summary>
    /// The stage <see cref="Of"/> recorded <paramref name="ex"/> at, when a workflow rethrows it to close its run;
    /// null for a failure no workflow recorded. Read by the worker interceptor, which logs the run's end.
    /// </summary>
    public static string? StageOf(Exception ex) => Stages.TryGetValue(ex, out var stage) ? stage : null;

    /// <summary>
    /// The failure as the error history records it. Temporal's cancellation and a run stopped by the cancel signal
    /// (<see cref="ErrorTypes.Cancelled"/>) are both a cancellation, described by <paramref name="cancelledMessage"/>.
    /// </summary>
    public static RunFailure Of(Exception ex, string stage, string cancelledMessage)
    {
        // Not workflow state: nothing reads it back into the workflow, so replay is unaffected.
        Stages.AddOrUpdate(ex, stage);
        var cancelled = TemporalException.IsCanceledException(ex)
            || ex is ApplicationFailureException { ErrorType: ErrorTypes.Cancelled };
        var error = new ErrorRecord(
            Workflow.UtcNow,
            stage,
            cancelled ? ErrorTypes.Cancelled : ActivityErrors.TypeOf(ex),
            cancelled ? cancelledMessage : ActivityErrors.Describe(ex),
            Handled: false);
        return new RunFailure(cancelled, error);
    }
}
