namespace Formanova.Modules.Model;

/// <summary>
/// Told of every prediction the Model module answers (and of every one the model failed), on the caller's thread:
/// how another part of the service records them without the Model module knowing it. An implementation must return
/// at once (no I/O, no lock held across one); the host's hands each to a bounded queue (docs/feedback.md).
/// </summary>
public interface IPredictionObserver
{
    /// <summary>
    /// An answer, <see cref="PredictionResult.PredictionId"/> set, of a version whose task is <paramref name="task"/>:
    /// a served one, or a shadow arm's (<see cref="PredictionResult.ServedPredictionId"/> set, off the request path).
    /// </summary>
    void Predicted(PredictionResult result, ModelTask task, string? entityId);

    /// <summary>
    /// A prediction the model could not answer (not a caller's error): <paramref name="errorKind"/> is the failure's
    /// class (<c>unavailable</c>, <c>unprocessable</c>), <paramref name="version"/> the version that failed,
    /// <paramref name="route"/> the experiment arm it was routed to, if any.
    /// </summary>
    void Failed(
        string predictionId,
        string model,
        string version,
        ModelTask task,
        string errorKind,
        double latencyMs,
        string? entityId,
        PredictionRoute? route = null);
}

/// <summary>
/// The experiment arm a prediction was routed to; <see cref="ServedPredictionId"/> is set for a shadow arm's, naming
/// the served prediction it scored a copy of.
/// </summary>
public sealed record PredictionRoute(string Experiment, string Arm, string? ServedPredictionId = null);

/// <summary>The observer of a host that records nothing.</summary>
internal sealed class NoPredictionObserver : IPredictionObserver
{
    public void Predicted(PredictionResult result, ModelTask task, string? entityId)
    {
    }

    public void Failed(
        string predictionId,
        string model,
        string version,
        ModelTask task,
        string errorKind,
        double latencyMs,
        string? entityId,
        PredictionRoute? route = null)
    {
    }
}
