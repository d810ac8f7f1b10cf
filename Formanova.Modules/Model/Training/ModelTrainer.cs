using System.Diagnostics;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Formanova.Modules.Model.Training;

internal sealed record TrainedModel(
    byte[] Zip,
    string Trainer,
    IReadOnlyDictionary<string, double> Metrics,
    long TrainRows,
    long TestRows,
    long SkippedRows,
    double Seconds,
    TrainingReport Report);

/// <summary>Streams rows into memory, fits the schema's pipeline with a seeded MLContext, evaluates it and saves the zip.</summary>
internal sealed class ModelTrainer(IOptions<ModelOptions> options)
{
    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(2);

    private readonly ModelOptions.TrainingOptions _limits = options.Value.Training;

    public async Task<TrainedModel> TrainAsync(
        TrainModelRequest request,
        IAsyncEnumerable<object?[]> rows,
        IAsyncEnumerable<object?[]>? testRows,
        IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        var schema = ModelSchema.Validate(request.Columns, request.Task, requireLabel: true, _limits.MaxColumns);
        var weighting = request.ClassWeighting && request.Task != ModelTask.Regression;
        var trainer = TrainerCatalog.Resolve(request.Task, request.Trainer).With(new TrainerSettings(
            request.Hyperparameters ?? TrainerSettings.Default.Hyperparameters,
            weighting ? ClassWeights.Column : null));
        if (testRows is null && request.TestFraction is <= 0 or >= 1)
        {
            throw ModuleException.Invalid(
                "testFraction",
                "The test fraction must be between 0 and 1 (exclusive) when no test rows are given.");
        }

        var stopwatch = Stopwatch.StartNew();
        var phases = new Dictionary<string, double>();
        var phase = Stopwatch.StartNew();
        void EndPhase(string name)
        {
            phases[name] = phase.Elapsed.TotalSeconds;
            phase.Restart();
        }

        var limits = new TableLimits(_limits.MaxRows, (long)_limits.MaxMemoryMegabytes * 1024 * 1024);
        progress?.Report(new TrainingProgress("reading", 0, 0));
        var train = await TrainingTable.ReadAsync(schema, request.Columns, request.Task, rows, limits, "rows",
            read => progress?.Report(new TrainingProgress("reading", read, 0.05)), cancellationToken);
        var test = testRows is null
            ? null
            : await TrainingTable.ReadAsync(
                schema,
                request.Columns,
                request.Task,
                testRows,
                limits,
                "testRows",
                read => progress?.Report(new TrainingProgress("reading test rows", train.Rows + read, 0.1)),
                cancellationToken);

        if (train.Rows < 10)
        {
            throw new ModuleException(ErrorKind.Unprocessable, $"Training needs at least 10 labelled rows; {train.Rows} were given.");
        }

        EndPhase("reading");
        var ml = new MLContext(request.Seed);
        IDataView trainView = train.ToDataView();
        IDataView testView;
        if (test is null)
        {
            var split = ml.Data.TrainTestSplit(trainView, request.TestFraction, seed: request.Seed);
            (trainView, testView) = (split.TrainSet, split.TestSet);
        }
        else
        {
            testView = test.ToDataView();
        }

        if (weighting)
        {
            trainView = ClassWeights.Add(ml, request.Task, trainView);
        }

        // The report reads labels and raw feature values as the rows gave them, before any key mapping.
        var (rawTrain, rawTest) = (trainView, testView);
        Func<IDataView, IDataView> prepareLabel = view => view;
        if (request.Task == ModelTask.MulticlassClassification)
        {
            // Label keys are a training concern: the saved model never sees a label at prediction time.
            var labels = ml.Transforms.Conversion.MapValueToKey("Label").Fit(trainView);
            (trainView, testView) = (labels.Transform(trainView), labels.Transform(testView));
            prepareLabel = labels.Transform;
        }

        var pipeline = PipelineFactory.Build(ml, schema, trainer);
        var model = await FitAsync(ml, pipeline, trainView, train.Rows, progress, cancellationToken);
        EndPhase("fitting");

        progress?.Report(new TrainingProgress("evaluating", train.Rows, 0.9));
        var predictions = model.Transform(testView);
        // NaN (e.g. F1 with no positive prediction) has no JSON form; a missing metric says the same honestly.
        var metrics = Evaluate(ml, request.Task, predictions).Where(m => double.IsFinite(m.Value)).ToDictionary();
        var testCount = CountRows(testView);
        var balance = TrainingReporter.Balance(request.Task, rawTrain, rawTest);
        var classification = request.Task == ModelTask.Regression
            ? null
            : TrainingReporter.Classification(
                request.Task,
                predictions,
                metrics.TryGetValue("logLoss", out var logLoss) ? logLoss : null);
        var binary = request.Task == ModelTask.BinaryClassification ? TrainingReporter.Binary(ml, model, predictions) : null;
        var regression = request.Task == ModelTask.Regression ? TrainingReporter.Regression(predictions, metrics) : null;
        EndPhase("evaluating");

        var importance = TrainingReporter.Importance(
            ml,
            request.Task,
            model,
            prepareLabel,
            rawTest,
            schema.Features,
            _limits.ImportanceRows,
            _limits.ImportanceRepeats,
            request.Seed,
            cancellationToken);
        EndPhase("importance");

        var profile = ProfileBuilder.Build(request.Task, schema.Features, rawTrain, predictions, balance, classification, request.Seed);
        EndPhase("profiling");

        progress?.Report(new TrainingProgress("saving", train.Rows, 0.95));
        using var zip = new MemoryStream();
        ml.Model.Save(model, InputSchema(schema), zip);
        EndPhase("saving");
        progress?.Report(new TrainingProgress("trained", train.Rows, 1));

        var trainRows = train.Rows + (test is null ? -testCount : 0);
        var skipped = train.SkippedRows + (test?.SkippedRows ?? 0);
        var report = new TrainingReport(
            request.Task,
            trainer.Name,
            TrainingReporter.Hyperparameters(pipeline),
            request.Seed,
            test is null ? request.TestFraction : null,
            new TrainingRowCounts(
                train.Read + (test?.Read ?? 0),
                trainRows,
                testCount,
                skipped,
                new Dictionary<string, long> { ["noLabel"] = skipped }),
            ReportColumns(schema, request.ColumnNotes),
            balance,
            metrics,
            classification,
            binary,
            regression,
            importance,
            phases,
            stopwatch.Elapsed.TotalSeconds,
            weighting,
            request.Leaderboard,
            Profile: profile);
        return new TrainedModel(
            zip.ToArray(),
            trainer.Name,
            metrics,
            trainRows,
            testCount,
            skipped,
            stopwatch.Elapsed.TotalSeconds,
            report);
    }

    /// <summary>
    /// Every column once: the features and the label the model was trained with, then what the caller says about the
    /// rest (ignored, dropped, or derived features with their source column).
    /// </summary>
    private static List<ReportColumn> ReportColumns(ModelSchema schema, IReadOnlyList<ReportColumn>? notes)
    {
        var columns = schema.Features.Select(f => new ReportColumn(f.Name, ReportColumnUse.Feature, "feature", f.Kind)).ToList();
        columns.Add(new ReportColumn(schema.Label!.Name, ReportColumnUse.Label, "label", schema.Label.Kind));
        var used = columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var note in notes ?? [])
        {
            var existing = columns.FindIndex(c => c.Name == note.Name);
            if (existing >= 0 && note.Use == ReportColumnUse.Derived)
            {
                // A derived feature is also a feature: the note adds where it came from.
                columns[existing] = columns[existing] with
                {
                    Use = ReportColumnUse.Derived,
                    Reason = note.Reason,
                    DerivedFrom = note.DerivedFrom,
                };
            }
            else if (used.Add(note.Name))
            {
                columns.Add(note);
            }
        }

        return columns;
    }

    /// <summary>The schema a saved model declares as its input: the features only, as the prediction engine will supply them.</summary>
    public static DataViewSchema InputSchema(ModelSchema schema)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var column in schema.Features)
        {
            builder.AddColumn(column.Name, ModelSchema.IsFloat(column.Kind) ? NumberDataViewType.Single : TextDataViewType.Instance);
        }

        return builder.ToSchema();
    }

    internal static async Task<ITransformer> FitAsync(
        MLContext ml,
        IEstimator<ITransformer> pipeline,
        IDataView data,
        long rows,
        IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        progress?.Report(new TrainingProgress("training", rows, 0.15));
        cancellationToken.ThrowIfCancellationRequested();
        using var cancel = cancellationToken.Register(() => CancelExecution(ml));
        var fit = Task.Run(() => pipeline.Fit(data), CancellationToken.None);

        // The fit is one opaque call; a steady heartbeat lets an activity prove it is alive through it.
        using var heartbeat = new PeriodicTimer(HeartbeatInterval);
        while (!fit.IsCompleted)
        {
            var tick = heartbeat.WaitForNextTickAsync(CancellationToken.None).AsTask();
            await Task.WhenAny(fit, tick);
            if (!fit.IsCompleted)
            {
                progress?.Report(new TrainingProgress("training", rows, 0.15));
            }
        }

        ITransformer model;
        try
        {
            model = await fit;
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("Training was cancelled during the fit.", ex, cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentOutOfRangeException or ArgumentException)
        {
            throw new ModuleException(ErrorKind.Unprocessable, $"ML.NET could not train on these rows: {ex.Message}", inner: ex);
        }

        // A fit that ignored the request (some trainers check rarely) still must not produce a registered model.
        cancellationToken.ThrowIfCancellationRequested();
        return model;
    }

    // MLContext.CancelExecution is not public in ML.NET 5; it flags the environment so the running Fit throws at its
    // next check. Found by name, so an ML.NET upgrade that drops it degrades to cancelling after the fit.
    private static readonly System.Reflection.MethodInfo? CancelMethod = typeof(MLContext).GetMethod(
        "CancelExecution", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public
            | System.Reflection.BindingFlags.NonPublic, []);

    private static void CancelExecution(MLContext ml) => CancelMethod?.Invoke(ml, null);

    internal static Dictionary<string, double> Evaluate(MLContext ml, ModelTask task, IDataView predictions)
    {
        switch (task)
        {
            case ModelTask.BinaryClassification when predictions.Schema.GetColumnOrNull("Probability") is not null:
                var calibrated = ml.BinaryClassification.Evaluate(predictions);
                return new()
                {
                    ["auc"] = calibrated.AreaUnderRocCurve,
                    ["accuracy"] = calibrated.Accuracy,
                    ["f1"] = calibrated.F1Score,
                    ["logLoss"] = calibrated.LogLoss
                };
            case ModelTask.BinaryClassification:
                var raw = ml.BinaryClassification.EvaluateNonCalibrated(predictions);
                return new() { ["auc"] = raw.AreaUnderRocCurve, ["accuracy"] = raw.Accuracy, ["f1"] = raw.F1Score };
            case ModelTask.MulticlassClassification:
                var multi = ml.MulticlassClassification.Evaluate(predictions);
                return new()
                {
                    ["macroAccuracy"] = multi.MacroAccuracy,
                    ["macroF1"] = MacroF1(multi.ConfusionMatrix),
                    ["microAccuracy"] = multi.MicroAccuracy,
                    ["logLoss"] = multi.LogLoss
                };
            default:
                var regression = ml.Regression.Evaluate(predictions);
                return new()
                {
                    ["rmse"] = regression.RootMeanSquaredError,
                    ["mae"] = regression.MeanAbsoluteError,
                    ["r2"] = regression.RSquared
                };
        }
    }

    /// <summary>The mean over classes of F1; a class never predicted and never present counts as 0, so rare classes weigh in.</summary>
    private static double MacroF1(Microsoft.ML.Data.ConfusionMatrix matrix) => matrix.PerClassPrecision
        .Zip(matrix.PerClassRecall, (p, r) => p + r > 0 ? 2 * p * r / (p + r) : 0)
        .DefaultIfEmpty(0)
        .Average();

    internal static long CountRows(IDataView view)
    {
        if (view.GetRowCount() is { } known)
        {
            return known;
        }

        long count = 0;
        using var cursor = view.GetRowCursor([]);
        while (cursor.MoveNext())
        {
            count++;
        }

        return count;
    }
}
