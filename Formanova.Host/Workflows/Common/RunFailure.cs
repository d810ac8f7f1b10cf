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

    public static bool ClosesRun(Exception ex) => ex is FailureException || TemporalException.IsCanceledException(ex);

    /// <summary>
    /// The failure as the error history records it. Temporal's cancellation and a run stopped by the cancel signal
    /// (<see cref="ErrorTypes.Cancelled"/>) are both a cancellation, described by <paramref name="cancelledMessage"/>.
    /// </summary>
    public static RunFailure Of(Exception ex, string stage, string cancelledMessage)
    {
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
