using System.Data;
using System.Text.Json;

namespace Formanova.Modules.Data.Outcomes;

/// <summary>
/// Takes a logged prediction's values, each by its column's position (0-based) in <see cref="PredictionLogRow.Columns"/>.
/// </summary>
internal interface IPredictionLogBinder
{
    void Text(int column, string? value);

    void Real(int column, double? value);

    void Flag(int column, bool value);

    void Time(int column, DateTimeOffset value);
}

/// <summary>
/// The prediction log's insert row, for both providers: the parameters in column order, and the one mapping of a
/// <see cref="LoggedPrediction"/> onto them. A binder is a struct passed as a type argument, so the per-row write on
/// the predict path neither boxes it nor allocates beyond what the provider's binding itself does.
/// </summary>
internal static class PredictionLogRow
{
    public static readonly (string Name, DbType Type)[] Columns =
    [
        ("@PredictionId", DbType.String), ("@Model", DbType.String),
        ("@Version", DbType.String), ("@Task", DbType.String), ("@Source", DbType.String),
        ("@PredictedAt", DbType.DateTimeOffset), ("@EntityId", DbType.String),
        ("@Experiment", DbType.String), ("@Arm", DbType.String), ("@ErrorKind", DbType.String),
        ("@Label", DbType.String), ("@Value", DbType.Double), ("@Score", DbType.Double),
        ("@Probabilities", DbType.String), ("@LatencyMs", DbType.Double),
        ("@Cached", DbType.Boolean), ("@FallbackFrom", DbType.String),
        ("@ServedPredictionId", DbType.String),
    ];

    public static void Write<TBinder>(TBinder binder, LoggedPrediction p)
        where TBinder : struct, IPredictionLogBinder
    {
        var probabilities = p.Task == OutcomeTask.Regression || p.Probabilities is null ? null : JsonSerializer.Serialize(p.Probabilities);
        binder.Text(0, p.PredictionId);
        binder.Text(1, p.Model);
        binder.Text(2, p.Version);
        binder.Text(3, PredictionLog.TaskText(p.Task));
        binder.Text(4, p.Source);
        binder.Time(5, p.PredictedAt);
        binder.Text(6, p.EntityId);
        binder.Text(7, p.Experiment);
        binder.Text(8, p.Arm);
        binder.Text(9, p.ErrorKind);
        binder.Text(10, p.Label);
        binder.Real(11, p.Value);
        binder.Real(12, p.Score);
        binder.Text(13, probabilities);
        binder.Real(14, p.LatencyMs);
        binder.Flag(15, p.Cached);
        binder.Text(16, p.FallbackFrom);
        binder.Text(17, p.ServedPredictionId);
    }
}
