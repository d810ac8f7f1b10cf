using System.Diagnostics;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;
using Microsoft.ML;

namespace Formanova.Modules.Model.Training;

/// <summary>
/// Fits one candidate of an automatic search and scores it on a validation split carved from the training part of
/// the run's seeded split: the same seed and test fraction as <see cref="ModelTrainer"/> give the same training part,
/// so the winner's held-out test rows are never used to choose it. Nothing is saved or registered.
/// </summary>
internal sealed class CandidateEvaluator(IOptions<ModelOptions> options)
{
    private readonly ModelOptions.TrainingOptions _limits = options.Value.Training;

    public async Task<CandidateEvaluation> EvaluateAsync(
        EvaluateCandidateRequest request,
        IAsyncEnumerable<object?[]> rows,
        IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        var schema = ModelSchema.Validate(request.Columns, request.Task, requireLabel: true, _limits.MaxColumns);
        var metric = AutoTrainingGrid.Metric(request.Task, request.SelectionMetric);
        var weighting = request.ClassWeighting && request.Task != ModelTask.Regression;
        var trainer = TrainerCatalog.Resolve(request.Task, request.Candidate.Trainer).With(
            new TrainerSettings(request.Candidate.Hyperparameters, weighting ? ClassWeights.Column : null, request.Threads));
        if (request.TestFraction is <= 0 or >= 1 || request.ValidationFraction is <= 0 or >= 1)
        {
            throw ModuleException.Invalid("validationFraction", "The test and validation fractions must be between 0 and 1 (exclusive).");
        }

        var stopwatch = Stopwatch.StartNew();
        var limits = new TableLimits(_limits.MaxRows, (long)_limits.MaxMemoryMegabytes * 1024 * 1024);
        var table = await TrainingTable.ReadAsync(schema, request.Columns, request.Task, rows, limits, "rows",
            read => progress?.Report(new TrainingProgress("reading", read, 0.05)), cancellationToken);
        if (table.Rows < 10)
        {
            throw new ModuleException(ErrorKind.Unprocessable, $"Training needs at least 10 labelled rows; {table.Rows} were given.");
        }

        var ml = new MLContext(request.Seed);
        var training = ml.Data.TrainTestSplit(table.ToDataView(), request.TestFraction, seed: request.Seed).TrainSet;
        var split = ml.Data.TrainTestSplit(training, request.ValidationFraction, seed: unchecked(request.Seed + 1));
        var (fit, validation) = (split.TrainSet, split.TestSet);
        if (weighting)
        {
            fit = ClassWeights.Add(ml, request.Task, fit);
        }

        if (request.Task == ModelTask.MulticlassClassification)
        {
            var labels = ml.Transforms.Conversion.MapValueToKey("Label").Fit(fit);
            (fit, validation) = (labels.Transform(fit), labels.Transform(validation));
        }

        var pipeline = PipelineFactory.Build(ml, schema, trainer);
        var model = await ModelTrainer.FitAsync(ml, pipeline, fit, table.Rows, progress, cancellationToken);
        var metrics = ModelTrainer.Evaluate(ml, request.Task, model.Transform(validation))
            .Where(m => double.IsFinite(m.Value))
            .ToDictionary();
        var validationRows = ModelTrainer.CountRows(validation);
        return new CandidateEvaluation(
            trainer.Name,
            request.Candidate.Hyperparameters,
            metrics,
            metrics.TryGetValue(metric.Name, out var score) ? score : null,
            ModelTrainer.CountRows(fit),
            validationRows,
            stopwatch.Elapsed.TotalSeconds);
    }
}
