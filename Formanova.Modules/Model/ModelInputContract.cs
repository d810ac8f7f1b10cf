using System.Text.Json;

namespace Formanova.Modules.Model;

/// <summary>The type of a raw input column, as the training dataset stored it.</summary>
public enum InputType
{
    Numeric,
    Categorical,
    Boolean,
    Text,
    Datetime,
}

/// <summary>
/// What a raw column is to the model: a feature it needs, its label, or a column it ignores (an id, an ignored or
/// excluded column).
/// </summary>
public enum InputRole
{
    Feature,
    Label,
    Ignored,
}

public enum InputStepOp
{
    Rename,
    Cast,
    Fill,
    Filter,
    Derive,
}

/// <summary>A part of a date-time that becomes a numeric feature (in UTC; day of week 1 = Monday to 7 = Sunday).</summary>
public enum DatePart
{
    Year,
    Month,
    Day,
    DayOfWeek,
    DayOfYear,
    Hour,
    EpochSeconds,
}

/// <summary>One raw column of the training dataset.</summary>
public sealed record InputColumn(string Name, InputType Type, InputRole Role);

/// <summary>
/// One per-row step frozen at training time, with the column names at that step: rename (Column to NewName), cast
/// (Column to Type), fill (nulls of Column with Value, the constant training computed for a mean or mode fill),
/// filter (Expression; recorded, not applied when scoring) and derive (NewName from Expression).
/// </summary>
public sealed record InputStep(
    InputStepOp Op,
    string? Column = null,
    string? NewName = null,
    InputType? Type = null,
    JsonElement? Value = null,
    string? Expression = null);

/// <summary>A numeric feature made from a date-time column (after the steps): <c>{Source}.{part}</c>.</summary>
public sealed record DerivedFeature(string Name, string Source, DatePart Part)
{
    private static readonly DatePart[] ClassificationParts =
        [DatePart.Year, DatePart.Month, DatePart.Day, DatePart.DayOfWeek, DatePart.DayOfYear, DatePart.Hour];

    /// <summary>
    /// The features a date-time column becomes for <paramref name="task"/>, named <c>{column}.year</c> and so on; epoch
    /// seconds only for regression, where a trend in time is a number to extrapolate rather than a category.
    /// </summary>
    public static IReadOnlyList<DerivedFeature> ForDate(string column, ModelTask task) =>
        [
            .. (task == ModelTask.Regression ? [.. ClassificationParts, DatePart.EpochSeconds] : ClassificationParts)
                .Select(p => new DerivedFeature($"{column}.{JsonNamingPolicy.CamelCase.ConvertName(p.ToString())}", column, p))
        ];

    /// <summary>
    /// The feature's value for a date-time (a DateTimeOffset, a DateTime or an ISO 8601 string); null when there is none.
    /// </summary>
    public double? Compute(object? value) => Inference.DateFeatures.Compute(value, Part);
}

/// <summary>
/// What a version takes as input: the raw columns of its training dataset, the per-row steps training applied to them
/// (in order) and the date-time features made after the steps. Every scoring path runs the steps and makes the date
/// features before featurising, so a version accepts the rows it was trained on.
/// </summary>
public sealed record ModelInputContract(
    IReadOnlyList<InputColumn> Columns,
    IReadOnlyList<InputStep> Steps,
    IReadOnlyList<DerivedFeature> DerivedFeatures);
