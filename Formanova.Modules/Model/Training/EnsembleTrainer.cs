using System.Diagnostics;
using Formanova.Modules.Model.Inference;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model.Training;

/// <summary>
/// A training run with an ensemble (docs/model.md, "Ensembles"): the members predict every row; a seeded split holds
/// rows out; a stacked ensemble's meta-learner is fit by <see cref="ModelTrainer"/> on the members' outputs of the rest;
/// then the ensemble, through the same backend that serves it, and each member are scored on the held-out rows alike.
/// </summary>
internal sealed class EnsembleTrainer(ModelTrainer trainer, IOptions<ModelOptions> options)
{
    /// <summary>
    /// The meta-learners stacking uses unless the run names a trainer: linear ones, a weighting of the members' outputs
    /// (logistic regression and maximum entropy over their probabilities, SDCA over their values).
    /// </summary>
    private static readonly Dictionary<ModelTask, string> MetaLearners = new()
    {
        [ModelTask.BinaryClassification] = "LbfgsLogisticRegression",
        [ModelTask.MulticlassClassification] = "LbfgsMaximumEntropy",
        [ModelTask.Regression] = "Sdca",
    };

    // SDCA's own L2 choice (and 0.001) diverged to non-finite weights on the members' near-collinear values; 0.01 does not.
    private static readonly Dictionary<string, double> MetaRegularisation = new() { ["l2Regularization"] = 0.01 };

    public async Task<(TrainedModel Trained, EnsembleInfo Info, IReadOnlyList<ModelColumn> Columns)> TrainAsync(
        TrainModelRequest request,
        PlannedEnsemble plan,
        IAsyncEnumerable<object?[]> rows,
        IAsyncEnumerable<object?[]>? testRows,
        IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var label = request.Columns.ToList().FindIndex(c => c.IsLabel);
        if (label < 0)
        {
            throw ModuleException.Invalid("columns", "A training run with an ensemble needs a label column to evaluate it.");
        }

        if (testRows is null && request.TestFraction is <= 0 or >= 1)
        {
            throw ModuleException.Invalid(
                "testFraction",
                "The test fraction must be between 0 and 1 (exclusive) when no test rows are given.");
        }

        var labelColumn = request.Columns[label];
        var columns = plan.Columns.Append(labelColumn).ToList();
        var row = new ModelVersionRow
        {
            Name = request.Name,
            Version = request.Version,
            Task = plan.Task.ToString(),
            SchemaJson = System.Text.Json.JsonSerializer.Serialize(columns, RegistryJson.Options),
            Framework = FrameworkText.Ensemble,
        };

        progress?.Report(new TrainingProgress("reading", 0, 0));
        var (train, skipped) = await ReadAsync(rows, label, cancellationToken);
        var (test, skippedTest) = testRows is null ? ([], 0) : await ReadAsync(testRows, label, cancellationToken);
        skipped += skippedTest;
        if (testRows is null)
        {
            // Seeded, so a run with the same rows and seed holds out the same rows.
            object?[][] shuffled = [.. train];
            new Random(request.Seed).Shuffle(shuffled);
            var held = (int)Math.Round(shuffled.Length * request.TestFraction);
            test = [.. shuffled.Take(held)];
            train = [.. shuffled.Skip(held)];
        }

        if (test.Count == 0 || (plan.Info.Combiner == EnsembleCombiner.Stacking && train.Count < 10))
        {
            throw new ModuleException(
                ErrorKind.Unprocessable,
                $"An ensemble run needs held-out rows (and 10 rows to fit a meta-learner); {train.Count} + {test.Count} were given.");
        }

        var names = request.Columns.Select((c, i) => i == label ? null : c.Name).ToList();
        progress?.Report(new TrainingProgress("scoring members", train.Count + test.Count, 0.2));
        var members = plan.Models.Select((m, i) => new EnsembleMemberModel(
            plan.Info.Members[i], m, row.Layout, null, () => Task.FromResult<LoadedModel?>(null))).ToArray();
        var info = plan.Info;
        TrainedModel? meta = null;
        LoadedModel? metaModel = null;
        if (info.Combiner == EnsembleCombiner.Stacking)
        {
            var features = info.MetaFeatures!;
            var metaColumns = features.Select(f => new ModelColumn(f, ColumnKind.Numeric)).Append(labelColumn).ToList();
            var metaTrainer = string.IsNullOrWhiteSpace(request.Trainer) ? MetaLearners[plan.Task] : request.Trainer;
            meta = await trainer.TrainAsync(
                request with
                {
                    Columns = metaColumns,
                    Trainer = metaTrainer,
                    Hyperparameters = string.IsNullOrWhiteSpace(request.Trainer) && plan.Task == ModelTask.Regression
                        ? MetaRegularisation
                        : request.Hyperparameters,
                    Ensemble = null,
                    Contract = null,
                    ColumnNotes = null,
                    Leaderboard = null,
                },
                MetaRows(row, names, train, label, members, plan, cancellationToken),
                MetaRows(row, names, test, label, members, plan, cancellationToken),
                progress,
                cancellationToken);
            using var stream = new MemoryStream(meta.Zip, writable: false);
            metaModel = LoadedModel.Load(EnsembleBackend.MetaRow(row.Name, row.Version, plan.Task, features), stream, 1);
            info = info with { MetaLearner = meta.Trainer };
        }

        progress?.Report(new TrainingProgress("evaluating", train.Count + test.Count, 0.9));
        var ensemble = LoadedModel.Create(row, new EnsembleBackend(plan.Task, plan.Classes, members, metaModel));
        var comparison = Compare(row, names, test, label, ensemble, plan, cancellationToken);
        var report = meta?.Report ?? Report(request, plan, columns, train.Count, test.Count, skipped, comparison.Ensemble, stopwatch);
        var trained = new TrainedModel(
            new EnsembleArtifact(info, meta?.Zip).ToBytes(),
            $"ensemble:{System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(info.Combiner.ToString())}",
            meta?.Metrics ?? comparison.Ensemble,
            train.Count,
            test.Count,
            skipped,
            stopwatch.Elapsed.TotalSeconds,
            report with { Ensemble = comparison });
        return (trained, info, columns);
    }

    private async Task<(List<object?[]> Rows, long Skipped)> ReadAsync(
        IAsyncEnumerable<object?[]> source,
        int label,
        CancellationToken cancellationToken)
    {
        var rows = new List<object?[]>();
        long skipped = 0;
        await foreach (var values in source.WithCancellation(cancellationToken))
        {
            if (values.Length <= label || values[label] is null)
            {
                skipped++;
                continue;
            }

            if (rows.Count >= options.Value.Training.MaxRows)
            {
                throw new ModuleException(ErrorKind.TooLarge, $"A training run reads at most {options.Value.Training.MaxRows} rows.");
            }

            rows.Add(values);
        }

        return (rows, skipped);
    }

    /// <summary>Each row as the meta-learner's row: the members' outputs, then the label.</summary>
    private static async IAsyncEnumerable<object?[]> MetaRows(
        ModelVersionRow row,
        List<string?> names,
        List<object?[]> rows,
        int label,
        EnsembleMemberModel[] members,
        PlannedEnsemble plan,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var width = EnsembleBackend.OutputWidth(plan.Task, plan.Classes.Count);
        var outputs = new float[members.Length * width];
        var converted = Convert(row, names, rows);
        var scratch = members.Select(m => m.Scratch()).ToArray();
        for (var r = 0; r < rows.Count; r++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (var m = 0; m < members.Length; m++)
            {
                members[m].Project(converted[r], scratch[m]);
                EnsembleBackend.Outputs(
                    plan.Task,
                    plan.Classes,
                    members[m].Model.Predict(scratch[m].Floats, scratch[m].Texts),
                    outputs,
                    m * width);
            }

            yield return [.. outputs.Select(o => (object?)(double)o), rows[r][label]];
        }

        await Task.CompletedTask;
    }

    /// <summary>The rows converted to the ensemble's inputs, by the contract that serves it; a bad value fails the run naming it.</summary>
    private static NormalizedInput[] Convert(ModelVersionRow row, List<string?> names, List<object?[]> rows)
    {
        var batch = PositionalRows.Create(row.Contract, names, rows, strict: false);
        var converted = new NormalizedInput[rows.Count];
        var errors = new BatchErrors();
        for (var i = 0; i < rows.Count; i++)
        {
            var scratch = new RowScratch(row.Layout.Length);
            if (!batch.TryConvert(i, scratch))
            {
                errors.Add(i, scratch.Errors);
            }

            converted[i] = scratch.Input;
        }

        errors.ThrowIfAny();
        return converted;
    }

    private static EnsembleComparison Compare(
        ModelVersionRow row,
        List<string?> names,
        List<object?[]> test,
        int label,
        LoadedModel ensemble,
        PlannedEnsemble plan,
        CancellationToken cancellationToken)
    {
        var converted = Convert(row, names, test);
        var combined = new Prediction[test.Count];
        var labels = test.Select(r => r[label]).ToArray();
        for (var i = 0; i < test.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            combined[i] = ensemble.Predict(converted[i].Floats, converted[i].Texts);
        }

        var memberMetrics = plan.Info.Members.Select((m, k) => new MemberComparison(
            m.Model,
            m.Version,
            EnsembleMetrics.Of(plan.Task, plan.Classes, labels, [.. combined.Select(c => Answer(c.Members![k]))]))).ToList();
        return new EnsembleComparison(test.Count, EnsembleMetrics.Of(plan.Task, plan.Classes, labels, combined), memberMetrics);
    }

    private static Prediction Answer(MemberPrediction member) =>
        new(member.Label, member.Value, member.Score, member.Probabilities, member.Probabilities);

    /// <summary>The report of an averaging or weighted ensemble: nothing is fit, so it says what was read and how it did.</summary>
    private static TrainingReport Report(
        TrainModelRequest request,
        PlannedEnsemble plan,
        List<ModelColumn> columns,
        int train,
        int test,
        long skipped,
        IReadOnlyDictionary<string, double> metrics,
        Stopwatch stopwatch) =>
        new(
            plan.Task,
            $"ensemble:{System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(plan.Info.Combiner.ToString())}",
            new Dictionary<string, string?>(),
            request.Seed,
            request.TestFraction,
            new TrainingRowCounts(train + test + skipped, train, test, skipped, new Dictionary<string, long> { ["noLabel"] = skipped }),
            [.. columns.Select(c => new ReportColumn(c.Name, c.IsLabel ? ReportColumnUse.Label : ReportColumnUse.Feature, "", c.Kind))],
            new LabelBalance(null, null, null),
            metrics,
            null,
            null,
            null,
            null,
            new Dictionary<string, double> { ["evaluating"] = stopwatch.Elapsed.TotalSeconds },
            stopwatch.Elapsed.TotalSeconds);
}

/// <summary>
/// The figures an ensemble run compares on held-out rows, computed one way for the ensemble and every member:
/// accuracy (the probability of true at least 0.5, or the likeliest class), logLoss (probabilities clipped at 1e-15)
/// and, for binary, auc; rmse, mae and r2 for regression.
/// </summary>
internal static class EnsembleMetrics
{
    public static Dictionary<string, double> Of(ModelTask task, IReadOnlyList<string> classes, object?[] labels, Prediction[] predictions)
    {
        if (task == ModelTask.Regression)
        {
            var actual = labels.Select(System.Convert.ToDouble).ToArray();
            var predicted = predictions.Select(p => p.Value ?? double.NaN).ToArray();
            var mean = actual.Average();
            var squared = actual.Zip(predicted, (a, p) => (a - p) * (a - p)).Sum();
            var total = actual.Sum(a => (a - mean) * (a - mean));
            return new Dictionary<string, double>
            {
                ["rmse"] = Math.Sqrt(squared / actual.Length),
                ["mae"] = actual.Zip(predicted, (a, p) => Math.Abs(a - p)).Average(),
                ["r2"] = total > 0 ? 1 - (squared / total) : 0,
            };
        }

        var truth = labels.Select(
            l => l is bool b ? (b ? "true" : "false") : System.Convert.ToString(l, System.Globalization.CultureInfo.InvariantCulture)!)
            .ToArray();
        var right = 0;
        var logLoss = 0.0;
        for (var i = 0; i < truth.Length; i++)
        {
            var probabilities = predictions[i].Probabilities ?? new Dictionary<string, double>();
            var best = classes.MaxBy(c => probabilities.TryGetValue(c, out var p) ? p : 0)!;
            right += task == ModelTask.BinaryClassification
                ? ((probabilities.TryGetValue("true", out var t) ? t : 0) >= 0.5) == (truth[i] == "true") ? 1 : 0
                : best == truth[i] ? 1 : 0;
            logLoss -= Math.Log(Math.Clamp(probabilities.TryGetValue(truth[i], out var q) ? q : 0, 1e-15, 1));
        }

        var metrics = new Dictionary<string, double>
        {
            [task == ModelTask.BinaryClassification ? "accuracy" : "microAccuracy"] = (double)right / truth.Length,
            ["logLoss"] = logLoss / truth.Length,
        };
        if (task == ModelTask.BinaryClassification && Auc(truth, predictions) is var auc && double.IsFinite(auc))
        {
            metrics["auc"] = auc;
        }

        return metrics;
    }

    // The chance that a random positive scores above a random negative (ties count half), by ranks.
    private static double Auc(string[] truth, Prediction[] predictions)
    {
        var scored = truth.Select((t, i) => (Positive: t == "true", P: predictions[i].Probabilities?["true"] ?? 0))
            .OrderBy(s => s.P)
            .ToArray();
        long positives = scored.Count(s => s.Positive), negatives = scored.Length - positives;
        if (positives == 0 || negatives == 0)
        {
            return double.NaN;
        }

        double rankSum = 0;
        for (var i = 0; i < scored.Length;)
        {
            var j = i;
            while (j < scored.Length && scored[j].P == scored[i].P)
            {
                j++;
            }

            var rank = (i + j + 1) / 2.0;
            rankSum += scored[i..j].Count(s => s.Positive) * rank;
            i = j;
        }

        return (rankSum - (positives * (positives + 1) / 2.0)) / (positives * negatives);
    }
}
