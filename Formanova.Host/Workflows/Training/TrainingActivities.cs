using System.Text.Json;
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
        var (columns, _, notes) = Map(stream.Columns, run);
        var skippedNames = notes.Where(n => n.Use is ReportColumnUse.Ignored or ReportColumnUse.Dropped).Select(n => n.Name).ToList();
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
    public Task<TrainedVersion> TrainModelAsync(TrainInput input) => ActivityErrors.GuardAsync(async () =>
    {
        var (run, prepared) = (input.Run, input.Prepared);
        var ct = Context.CancellationToken;
        var runId = Context.Info.WorkflowId ?? "";

        // The registry lookup is inside the mapping too: a name or version that can never register (Invalid) fails
        // the step for good instead of being retried.
        try
        {
            if (await ExistingAsync(run, runId, ct) is { } existing)
            {
                return existing;
            }

            var stream = await data.OpenRowStreamAsync(run.DatasetId, run.Transforms, ct);
            var (_, sources, notes) = Map(stream.Columns, run);
            var progress = new Progress<TrainingProgress>(p => Context.Heartbeat(new TrainingHeartbeat(p.Stage, p.RowsRead, p.Fraction)));
            var result = await models.TrainAsync(
                new TrainModelRequest(run.Model, run.Version, run.Task, prepared.Columns, input.Auto?.Winner?.Trainer ?? run.Trainer,
                    run.Seed, run.TestFraction, Activate: false,
                    Lineage: new ModelLineage(
                        run.DatasetId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        stream.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        runId),
                    Tags: new Dictionary<string, string> { ["trainingRun"] = runId },
                    Contract: Contract(stream, run, sources),
                    Hyperparameters: input.Auto?.Winner?.Hyperparameters,
                    ClassWeighting: input.Auto?.ClassWeighting == "inverseFrequency",
                    Leaderboard: input.Auto?.Leaderboard,
                    ColumnNotes: notes,
                    Ensemble: run.Ensemble),
                Project(stream.Rows, sources),
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
    });

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
    /// Feature and label columns in stream order, each with where its value comes from, and a note for the training
    /// report on every column that is not a plain feature or label. A date-time feature becomes its date parts
    /// (<see cref="DerivedFeature.ForDate"/>); id and ignored columns, a date-time label and the run's excluded
    /// columns are left out.
    /// </summary>
    internal static (List<ModelColumn> Columns, List<FeatureSource> Sources, List<ReportColumn> Notes) Map(
        IReadOnlyList<RowStreamColumn> columns,
        TrainingRunInput run)
    {
        var mapped = new List<ModelColumn>();
        var sources = new List<FeatureSource>();
        var notes = new List<ReportColumn>();
        var excluded = run.ExcludeColumns ?? [];
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
            if (c.Role is ColumnRole.Id or ColumnRole.Ignore)
            {
                notes.Add(new ReportColumn(c.Name, ReportColumnUse.Ignored, $"the dataset gives it the role '{ApiName(c.Role)}'"));
            }
            else if (c.Role != ColumnRole.Label && excluded.Contains(c.Name))
            {
                notes.Add(new ReportColumn(c.Name, ReportColumnUse.Ignored, "the run lists it in excludeColumns"));
            }
            else if (kind is { } k)
            {
                mapped.Add(new ModelColumn(c.Name, k, c.Role == ColumnRole.Label));
                sources.Add(new FeatureSource(i, null));
            }
            else if (c.Role == ColumnRole.Feature)
            {
                foreach (var derived in DerivedFeature.ForDate(c.Name, run.Task))
                {
                    mapped.Add(new ModelColumn(derived.Name, ColumnKind.Numeric));
                    sources.Add(new FeatureSource(i, derived));
                    notes.Add(new ReportColumn(
                        derived.Name,
                        ReportColumnUse.Derived,
                        $"the {ApiName(derived.Part)} of the date-time column '{c.Name}'",
                        ColumnKind.Numeric,
                        c.Name));
                }
            }
            else
            {
                notes.Add(new ReportColumn(c.Name, ReportColumnUse.Dropped, $"a {ApiName(c.Type)} label cannot be learned"));
            }
        }

        return (mapped, sources, notes);
    }

    /// <summary>
    /// What the version takes at scoring time: the dataset's raw columns with their roles, the transforms' per-row
    /// steps as they ran, and the date features made, so every scoring path prepares a raw row the way training did.
    /// </summary>
    private static ModelInputContract Contract(RowStream stream, TrainingRunInput run, List<FeatureSource> sources)
    {
        var excluded = run.ExcludeColumns ?? [];
        var raw = stream.SourceColumns ?? stream.Columns;
        var columns = raw.Select(c => new InputColumn(c.Name, TypeOf(c.Type), c.Role switch
        {
            ColumnRole.Label => InputRole.Label,
            ColumnRole.Feature when !excluded.Contains(FinalName(c.Name, stream.Steps)) => InputRole.Feature,
            _ => InputRole.Ignored,
        })).ToList();
        var steps = (stream.Steps ?? []).Select(s => new InputStep(
            s.Op switch
            {
                TransformOp.Rename => InputStepOp.Rename,
                TransformOp.Cast => InputStepOp.Cast,
                TransformOp.Fill => InputStepOp.Fill,
                TransformOp.Filter => InputStepOp.Filter,
                _ => InputStepOp.Derive,
            },
            s.Column,
            s.NewName,
            s.Type is { } type ? TypeOf(type) : null,
            s.Value is null ? null : JsonSerializer.SerializeToElement(s.Value),
            s.Expression)).ToList();
        return new ModelInputContract(columns, steps, [.. sources.Where(s => s.Derived is not null).Select(s => s.Derived!)]);
    }

    private static string FinalName(string name, IReadOnlyList<FrozenStep>? steps)
    {
        foreach (var step in steps ?? [])
        {
            if (step.Op == TransformOp.Rename && step.Column == name)
            {
                name = step.NewName!;
            }
        }

        return name;
    }

    private static string ApiName<T>(T value)
        where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    private static InputType TypeOf(ColumnType type) => type switch
    {
        ColumnType.Numeric => InputType.Numeric,
        ColumnType.Categorical => InputType.Categorical,
        ColumnType.Boolean => InputType.Boolean,
        ColumnType.Text => InputType.Text,
        _ => InputType.Datetime,
    };

    internal static async IAsyncEnumerable<object?[]> Project(IAsyncEnumerable<object?[]> rows, List<FeatureSource> sources)
    {
        await foreach (var row in rows)
        {
            var projected = new object?[sources.Count];
            for (var i = 0; i < sources.Count; i++)
            {
                var value = row[sources[i].Index];
                projected[i] = sources[i].Derived is { } derived ? derived.Compute(value) : value;
            }

            yield return projected;
        }
    }

    /// <summary>A model column's value: stream column <see cref="Index"/>, or a date part of it.</summary>
    internal sealed record FeatureSource(int Index, DerivedFeature? Derived);
}
