using Formanova.Modules.Data;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Host.Workflows.Api;

/// <summary>
/// What a training run can be refused for before it starts (docs/workflows.md, "ModelTrainingWorkflow"): a model
/// name or version the Model module would never register (400), a version that already exists (409), an unknown
/// dataset (404), an excluded column the dataset does not have (400), no label column after the request's
/// transforms, and a label that does not fit the task (422).
/// The body's shape is checked before this by <see cref="TrainingRunBodyValidator"/>.
/// </summary>
internal sealed class TrainingRunPreCheck(IDataModule data, IModelModule models)
{
    /// <summary>
    /// The label's distinct values are counted up to this many: enough to list them in the answer, and the read stops
    /// early for a label with more (a continuous number sent as a class).
    /// </summary>
    public const int LabelValuesCap = 100;

    /// <summary>
    /// Throws the answer for the first problem found. <paramref name="runId"/> is the run this request maps to when
    /// it carries an Idempotency-Key: the version that run registered is no conflict for a repeated request.
    /// </summary>
    public async Task CheckAsync(TrainingRunBody body, string? runId, CancellationToken cancellationToken)
    {
        await CheckVersionAsync(body.Model!, body.Version!, runId, cancellationToken);
        var stream = await StreamAsync(body.DatasetId!.Value, body.Transforms, cancellationToken);
        CheckExcludedColumns(body.ExcludeColumns, stream);
        await CheckTaskAsync(body, Label(body.DatasetId!.Value, stream), cancellationToken);
    }

    private static void CheckExcludedColumns(List<string>? excluded, RowStream stream)
    {
        for (var i = 0; i < (excluded?.Count ?? 0); i++)
        {
            if (!stream.Columns.Any(c => c.Name == excluded![i]))
            {
                throw ModuleException.Invalid(
                    $"excludeColumns[{i}]",
                    $"'{excluded![i]}' is not a column of the dataset (after transforms).");
            }
        }
    }

    private async Task CheckVersionAsync(string model, string version, string? runId, CancellationToken cancellationToken)
    {
        ModelVersionInfo existing;
        try
        {
            existing = await models.GetVersionAsync(model, version, cancellationToken);
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            return;
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.Invalid)
        {
            // The Model module names its own parameter 'name'; the request's field is 'model'.
            throw new ModuleException(
                ErrorKind.Invalid,
                ex.Message,
                ex.Errors.ToDictionary(kv => kv.Key == "name" ? "model" : kv.Key, kv => kv.Value));
        }

        if (runId is null || existing.Lineage.RunId != runId)
        {
            var message = $"Model '{existing.Name}' already has a version '{existing.Version}'; train a new version number.";
            throw new ModuleException(ErrorKind.Conflict, message, new Dictionary<string, string[]> { ["version"] = [message] });
        }
    }

    private async Task<RowStream> StreamAsync(long datasetId, List<TransformStep>? transforms, CancellationToken cancellationToken)
    {
        try
        {
            return await data.OpenRowStreamAsync(datasetId, transforms, cancellationToken);
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            throw new ModuleException(
                ErrorKind.NotFound,
                ex.Message,
                new Dictionary<string, string[]> { ["datasetId"] = [$"Dataset {datasetId} does not exist."] });
        }
    }

    private static RowStreamColumn Label(long datasetId, RowStream stream) =>
        stream.Columns.FirstOrDefault(c => c.Role == ColumnRole.Label)
            ?? throw new ModuleException(
                ErrorKind.Unprocessable,
                $"Dataset {datasetId} has no label column to train on.",
                new Dictionary<string, string[]> { ["datasetId"] = ["The dataset (after transforms) needs a column with role 'label'."] });

    /// <summary>
    /// Regression needs a numeric label; a binary label exactly 2 distinct values; a multiclass label at least 2. The
    /// values are counted after the request's transforms, over the rows that have a label.
    /// </summary>
    private async Task CheckTaskAsync(TrainingRunBody body, RowStreamColumn label, CancellationToken cancellationToken)
    {
        var task = body.Task!.Value;
        var taskName = TaskName(task);
        if (task == ModelTask.Regression)
        {
            if (label.Type != ColumnType.Numeric)
            {
                Refuse($"The label '{label.Name}' is {label.Type.ToString().ToLowerInvariant()}; {taskName} needs a numeric label.");
            }

            return;
        }

        var distinct = await data.CountDistinctAsync(body.DatasetId!.Value, label.Name, LabelValuesCap, body.Transforms, cancellationToken);
        var found = distinct.MoreThanCap
            ? $"more than {LabelValuesCap} distinct values"
            : $"{distinct.Count} distinct value{(distinct.Count == 1 ? "" : "s")}"
                + (distinct.Count == 0 ? "" : $" ({string.Join(", ", distinct.Values.Take(10))}{(distinct.Count > 10 ? ", …" : "")})");
        if (task == ModelTask.BinaryClassification && (distinct.MoreThanCap || distinct.Count != 2))
        {
            var hint = distinct.Count > 2 || distinct.MoreThanCap ? " Use multiclassClassification for more classes." : "";
            Refuse($"The label '{label.Name}' has {found}; {taskName} needs exactly 2.{hint}");
        }

        if (task == ModelTask.MulticlassClassification && !distinct.MoreThanCap && distinct.Count < 2)
        {
            Refuse($"The label '{label.Name}' has {found}; {taskName} needs at least 2 classes.");
        }
    }

    private static string TaskName(ModelTask task) => task switch
    {
        ModelTask.BinaryClassification => "binaryClassification",
        ModelTask.MulticlassClassification => "multiclassClassification",
        _ => "regression",
    };

    private static void Refuse(string message) =>
        throw new ModuleException(ErrorKind.Unprocessable, message, new Dictionary<string, string[]> { ["task"] = [message] });
}
