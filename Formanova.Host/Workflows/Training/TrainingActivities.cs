using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Errors;
using Temporalio.Activities;
using Temporalio.Exceptions;

namespace Formanova.Host.Workflows.Training;

/// <summary>The training run's steps. The rows never cross an activity boundary: the train step streams them itself.</summary>
internal sealed class TrainingActivities(IDataModule data, IModelModule models, IEventModule events)
{
    private static ActivityExecutionContext Context => ActivityExecutionContext.Current;

    /// <summary>Checks the transforms, maps the dataset's columns to model columns and counts usable rows.</summary>
    [Activity("prepare_training_data")]
    public Task<PreparedTraining> PrepareTrainingDataAsync(TrainingRunInput run) => ActivityErrors.GuardAsync(async () =>
    {
        var stream = await data.OpenRowStreamAsync(run.DatasetId, run.Transforms, Context.CancellationToken);
        var (columns, _, skipped) = Map(stream.Columns);
        var skippedNames = skipped.ConvertAll(c => c.Name);
        var label = stream.Columns.ToList().FindIndex(c => c.Role == ColumnRole.Label);
        if (label < 0)
        {
            throw new ApplicationFailureException(
                $"Dataset {run.DatasetId} has no label column to train on.",
                ErrorTypes.InvalidConfig,
                nonRetryable: true);
        }

        long rows = 0, unlabelled = 0;
        await foreach (var row in stream.Rows.WithCancellation(Context.CancellationToken))
        {
            rows++;
            if (row[label] is null)
            {
                unlabelled++;
            }

            if (rows % 10_000 == 0)
            {
                Context.Heartbeat(rows);
            }
        }

        if (rows - unlabelled < 10)
        {
            throw new ApplicationFailureException(
                $"Dataset {run.DatasetId} has {rows - unlabelled} labelled rows; at least 10 are needed.",
                ErrorTypes.InvalidConfig,
                nonRetryable: true);
        }

        return new PreparedTraining(columns, stream.SchemaVersion, rows, unlabelled, skippedNames);
    });

    /// <summary>
    /// Streams the rows into the Model module, heartbeating progress. A retry after a registration that
    /// succeeded returns that version instead of failing on the taken version number.
    /// </summary>
    [Activity("train_model")]
    public async Task<TrainedVersion> TrainModelAsync(TrainInput input)
    {
        var (run, prepared) = (input.Run, input.Prepared);
        var ct = Context.CancellationToken;
        var runId = Context.Info.WorkflowId ?? "";
        if (await ExistingAsync(run, runId, ct) is { } existing)
        {
            return existing;
        }

        try
        {
            var stream = await data.OpenRowStreamAsync(run.DatasetId, run.Transforms, ct);
            var (_, indices, notes) = Map(stream.Columns);
            var progress = new Progress<TrainingProgress>(p => Context.Heartbeat(new TrainingHeartbeat(p.Stage, p.RowsRead, p.Fraction)));
            var result = await models.TrainAsync(
                new TrainModelRequest(run.Model, run.Version, run.Task, prepared.Columns, run.Trainer, run.Seed, run
                    .TestFraction, Activate: false,
                    Lineage: new ModelLineage(
                        run.DatasetId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        stream.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        runId),
                    Tags: new Dictionary<string, string> { ["trainingRun"] = runId },
                    ColumnNotes: notes),
                Project(stream.Rows, indices),
                progress: progress,
                cancellationToken: ct);
            return new TrainedVersion(
                result.Version.Name,
                result.Version.Version,
                result.Version.Trainer,
                result.Metrics.ToDictionary(),
                result.TrainRows,
                result.TestRows,
                result.TrainingSeconds);
        }
        catch (OutOfMemoryException ex)
        {
            throw new ApplicationFailureException(ex.Message, ErrorTypes.OutOfMemory, nonRetryable: true);
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.TooLarge)
        {
            throw new ApplicationFailureException(ex.Message, ErrorTypes.OutOfMemory, nonRetryable: true);
        }
        catch (ModuleException ex) when (ex.Kind is ErrorKind.Invalid or ErrorKind.Unprocessable)
        {
            throw new ApplicationFailureException(
                ex.Message,
                ErrorTypes.InvalidConfig,
                nonRetryable: true,
                details: [ex.Errors.ToDictionary(kv => kv.Key, kv => kv.Value)]);
        }
        catch (ModuleException ex)
        {
            throw ActivityErrors.ToFailure(ex);
        }
    }

    [Activity("validate_model")]
    public static ModelValidationResult ValidateModel(ValidateModelInput input)
    {
        var failures = new List<string>();
        foreach (var (metric, minimum) in input.MinMetrics)
        {
            if (!input.Metrics.TryGetValue(metric, out var value))
            {
                failures.Add($"{metric} was not measured (needed ≥ {minimum}).");
            }
            else if (!(value >= minimum))
            {
                failures.Add($"{metric} {value:G4} is below the minimum {minimum}.");
            }
        }

        foreach (var (metric, maximum) in input.MaxMetrics)
        {
            if (!input.Metrics.TryGetValue(metric, out var value))
            {
                failures.Add($"{metric} was not measured (needed ≤ {maximum}).");
            }
            else if (!(value <= maximum))
            {
                failures.Add($"{metric} {value:G4} is above the maximum {maximum}.");
            }
        }

        return new ModelValidationResult(failures.Count == 0, failures);
    }

    /// <summary>Announces the registered version (MODEL_REGISTERED), once per run.</summary>
    [Activity("register_model")]
    public Task<long> RegisterModelAsync(TrainedVersion trained) => ActivityErrors.GuardAsync(async () =>
    {
        var runId = Context.Info.WorkflowId;
        var published = await events.PublishAsync(
            new PublishEventRequest(
                IEventModule.ModelRegistered,
                $"/workflows/{runId}",
                WorkflowJson.Element(trained),
                $"{trained.Model}/{trained.Version}",
                $"{runId}:{IEventModule.ModelRegistered}",
                runId),
            Context.CancellationToken);
        return published.Event.Sequence;
    });

    [Activity("activate_model")]
    public Task<string> ActivateModelAsync(string model, string version) => ActivityErrors.GuardAsync(async () =>
    {
        var runId = Context.Info.WorkflowId;
        var activated = await models.ActivateAsync(model, version, Context.CancellationToken);
        await events.PublishAsync(
            new PublishEventRequest(
                IEventModule.ModelActivated,
                $"/workflows/{runId}",
                WorkflowJson.Element(new { model, version }),
                $"{model}/{version}",
                $"{runId}:{IEventModule.ModelActivated}",
                runId),
            Context.CancellationToken);
        return activated.Version;
    });

    /// <summary>A version that failed validation or was rejected is archived so nobody activates it by mistake.</summary>
    [Activity("archive_model")]
    public Task<string> ArchiveModelAsync(string model, string version) => ActivityErrors.GuardAsync(async () =>
    {
        var info = await models.GetVersionAsync(model, version, Context.CancellationToken);
        return info.Status == ModelVersionStatus.Archived
            ? info.Version
            : (await models.ArchiveAsync(model, version, Context.CancellationToken)).Version;
    });

    private async Task<TrainedVersion?> ExistingAsync(TrainingRunInput run, string runId, CancellationToken ct)
    {
        try
        {
            var info = await models.GetVersionAsync(run.Model, run.Version, ct);
            if (info.Lineage.RunId != runId)
            {
                throw new ApplicationFailureException(
                    $"{run.Model} {run.Version} already exists (from another run).",
                    ErrorTypes.Conflict,
                    nonRetryable: true);
            }

            return new TrainedVersion(info.Name, info.Version, info.Trainer, info.Metrics.ToDictionary(), 0, 0, 0);
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            return null;
        }
    }

    /// <summary>
    /// Feature and label columns in stream order; id, ignored and datetime columns are left out, each with the reason
    /// the training report gives.
    /// </summary>
    private static (List<ModelColumn> Columns, int[] Indices, List<ReportColumn> Skipped) Map(IReadOnlyList<RowStreamColumn> columns)
    {
        var mapped = new List<ModelColumn>();
        var indices = new List<int>();
        var skipped = new List<ReportColumn>();
        for (var i = 0; i < columns.Count; i++)
        {
            var c = columns[i];
            ColumnKind? kind = c.Type switch
            {
                ColumnType.Numeric => ColumnKind.Numeric,
                ColumnType.Categorical => ColumnKind.Categorical,
                ColumnType.Boolean => ColumnKind.Boolean,
                ColumnType.Text => ColumnKind.Text,
                _ => null,
            };
            if (kind is null || c.Role is ColumnRole.Id or ColumnRole.Ignore)
            {
                skipped.Add(c.Role is ColumnRole.Id or ColumnRole.Ignore
                    ? new ReportColumn(c.Name, ReportColumnUse.Ignored, $"the dataset gives it the role '{ApiName(c.Role)}'")
                    : new ReportColumn(c.Name, ReportColumnUse.Dropped, $"{ApiName(c.Type)} columns are not model features"));
                continue;
            }

            mapped.Add(new ModelColumn(c.Name, kind.Value, c.Role == ColumnRole.Label));
            indices.Add(i);
        }

        return (mapped, [.. indices], skipped);
    }

    private static string ApiName<T>(T value)
        where T : struct, Enum => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    private static async IAsyncEnumerable<object?[]> Project(IAsyncEnumerable<object?[]> rows, int[] indices)
    {
        await foreach (var row in rows)
        {
            var projected = new object?[indices.Length];
            for (var i = 0; i < indices.Length; i++)
            {
                projected[i] = row[indices[i]];
            }

            yield return projected;
        }
    }
}
