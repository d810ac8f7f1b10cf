using System.Globalization;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace Formanova.Modules.Model.Training;

/// <summary>
/// The parts of a <see cref="TrainingReport"/> that need the data: class balance, per-class and residual figures from
/// the test predictions, permutation importance per raw column, and the trainer's options as it ran.
/// </summary>
internal static class TrainingReporter
{
    private const string ColumnNameSuffix = "ColumnName";

    /// <summary>
    /// The options of the pipeline's trainer, read from the estimator ML.NET will fit (a wrapped binary trainer, as in
    /// one-versus-all, is listed under its type name). Column names are left out; null means the trainer picks.
    /// </summary>
    public static IReadOnlyDictionary<string, string?> Hyperparameters(IEstimator<ITransformer> pipeline)
    {
        var trainer = pipeline.GetType().GetField("LastEstimator")?.GetValue(pipeline) ?? pipeline;
        var options = new SortedDictionary<string, string?>(StringComparer.Ordinal);
        Describe(trainer, "", options, depth: 0);
        return options;
    }

    /// <summary>Classes per split (classification, most frequent in training first) or the label's spread per split.</summary>
    public static LabelBalance Balance(ModelTask task, IDataView train, IDataView test)
    {
        if (task == ModelTask.Regression)
        {
            return new LabelBalance(null, Statistics(Labels<float>(train).Select(v => (double)v)), Statistics(Labels<float>(test)
                .Select(v => (double)v)));
        }

        var trainCounts = ClassCounts(task, train);
        var testCounts = ClassCounts(task, test);
        var classes = trainCounts.Keys.Union(testCounts.Keys)
            .OrderByDescending(c => trainCounts.GetValueOrDefault(c))
            .ThenBy(c => c, StringComparer.Ordinal)
            .Select(c => new ClassCount(c, trainCounts.GetValueOrDefault(c), testCounts.GetValueOrDefault(c)))
            .ToList();
        return new LabelBalance(classes, null, null);
    }

    /// <summary>
    /// Per-class figures and the confusion matrix from the test predictions. Multiclass classes are in the label's key
    /// order (first seen in training first); binary classes are <c>false</c>, <c>true</c>.
    /// </summary>
    public static ClassificationReport Classification(ModelTask task, IDataView predictions, double? logLoss)
    {
        var (classes, counts) = task == ModelTask.BinaryClassification ? BinaryMatrix(predictions) : MulticlassMatrix(predictions);
        var perClass = new List<ClassMetrics>(classes.Count);
        long right = 0, total = 0;
        for (var i = 0; i < classes.Count; i++)
        {
            var support = counts[i].Sum();
            var predicted = counts.Sum(row => row[i]);
            var hits = counts[i][i];
            right += hits;
            total += support;
            var precision = predicted == 0 ? 0 : (double)hits / predicted;
            var recall = support == 0 ? 0 : (double)hits / support;
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass.Add(new ClassMetrics(classes[i], precision, recall, f1, support, predicted));
        }

        var present = perClass.Where(c => c.Support > 0).ToList();
        return new ClassificationReport(
            total == 0 ? 0 : (double)right / total,
            present.Count == 0 ? 0 : present.Average(c => c.Recall),
            present.Count == 0 ? 0 : present.Average(c => c.F1),
            logLoss is { } l && double.IsFinite(l) ? l : null,
            perClass,
            new ConfusionMatrix(classes, [.. counts.Select(row => (IReadOnlyList<long>)row)]),
            [.. present.Where(c => c.Predicted == 0).Select(c => c.Class)]);
    }

    /// <summary>AUC, PR-AUC, F1 and accuracy, and the threshold the saved model's last step applies.</summary>
    public static BinaryReport Binary(MLContext ml, ITransformer model, IDataView predictions)
    {
        var metrics = ml.BinaryClassification.EvaluateNonCalibrated(predictions);
        // BinaryPredictionTransformer keeps its cut in internal fields; ML.NET's default (0 on Score) if they move.
        var last = model.GetType().GetProperty("LastTransformer")?.GetValue(model) ?? model;
        const BindingFlags Internal = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        var threshold = last.GetType().GetField("Threshold", Internal)?.GetValue(last) is float t ? t : 0f;
        var on = last.GetType().GetField("ThresholdColumn", Internal)?.GetValue(last) as string ?? "Score";
        return new BinaryReport(
            Finite(metrics.AreaUnderRocCurve),
            Finite(metrics.AreaUnderPrecisionRecallCurve),
            Finite(metrics.F1Score),
            metrics.Accuracy,
            threshold,
            on.ToLowerInvariant());
    }

    /// <summary>R², RMSE and MAE as evaluated, with the spread of the residuals (actual − predicted).</summary>
    public static RegressionReport Regression(IDataView predictions, IReadOnlyDictionary<string, double> metrics)
    {
        var residuals = new List<double>();
        using (var cursor = predictions.GetRowCursor([predictions.Schema["Label"], predictions.Schema["Score"]]))
        {
            var label = cursor.GetGetter<float>(predictions.Schema["Label"]);
            var score = cursor.GetGetter<float>(predictions.Schema["Score"]);
            float actual = 0, predicted = 0;
            while (cursor.MoveNext())
            {
                label(ref actual);
                score(ref predicted);
                residuals.Add((double)actual - predicted);
            }
        }

        residuals.Sort();
        var stats = Statistics(residuals);
        return new RegressionReport(
            metrics.GetValueOrDefault("r2", double.NaN),
            metrics.GetValueOrDefault("rmse", double.NaN),
            metrics.GetValueOrDefault("mae", double.NaN),
            new ResidualSpread(
                stats?.Mean ?? 0,
                stats?.StdDev ?? 0,
                Percentile(residuals, 0.05),
                Percentile(residuals, 0.25),
                Percentile(residuals, 0.5),
                Percentile(residuals, 0.75),
                Percentile(residuals, 0.95),
                residuals.Count == 0 ? 0 : Math.Max(Math.Abs(residuals[0]), Math.Abs(residuals[^1]))));
    }

    /// <summary>
    /// Permutation importance of each raw feature column: the first <paramref name="maxRows"/> test rows are copied
    /// once, then each column in turn is shuffled (<paramref name="repeats"/> seeded times) and the whole saved
    /// pipeline scores them again. One-hot slots and text n-grams therefore count towards their own column.
    /// Metric: AUC (binary; accuracy when the rows hold one class), micro accuracy (multiclass), R² (regression).
    /// </summary>
    public static FeatureImportanceReport? Importance(
        MLContext ml,
        ModelTask task,
        ITransformer model,
        Func<IDataView, IDataView> prepareLabel,
        IDataView rawTest,
        IReadOnlyList<ModelColumn> features,
        int maxRows,
        int repeats,
        int seed,
        CancellationToken cancellationToken)
    {
        if (maxRows <= 0 || repeats <= 0)
        {
            return null;
        }

        var (columns, rows) = Materialise(rawTest, [.. features.Select(f => f.Name), "Label"], maxRows);
        if (rows < 2)
        {
            return null;
        }

        var (metric, score) = Metric(ml, task);
        double Evaluate(IReadOnlyList<ColumnBuffer> data) =>
            score(model.Transform(prepareLabel(new ColumnarDataView(data, rows))));

        var baseline = SafeEvaluate(() => Evaluate(columns));
        if (!double.IsFinite(baseline) && task == ModelTask.BinaryClassification)
        {
            (metric, score) = ("accuracy", p => ml.BinaryClassification.EvaluateNonCalibrated(p).Accuracy);
            baseline = SafeEvaluate(() => Evaluate(columns));
        }

        if (!double.IsFinite(baseline))
        {
            return null;
        }

        var importances = new List<FeatureImportance>(features.Count);
        for (var c = 0; c < features.Count; c++)
        {
            var drops = new double[repeats];
            for (var r = 0; r < repeats; r++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var shuffled = columns.ToArray();
                shuffled[c] = columns[c].Reordered(Shuffle(rows, new Random(HashCode.Combine(seed, c, r))));
                drops[r] = baseline - SafeEvaluate(() => Evaluate(shuffled));
            }

            var finite = drops.Where(double.IsFinite).ToList();
            var stats = Statistics(finite);
            importances.Add(new FeatureImportance(features[c].Name, stats?.Mean ?? 0, stats?.StdDev ?? 0));
        }

        return new FeatureImportanceReport(
            metric,
            rows,
            repeats,
            baseline,
            [.. importances.OrderByDescending(i => i.Importance).ThenBy(i => i.Column, StringComparer.Ordinal)]);
    }

    private static (string Name, Func<IDataView, double> Score) Metric(MLContext ml, ModelTask task) => task switch
    {
        ModelTask.BinaryClassification => ("auc", p => ml.BinaryClassification.EvaluateNonCalibrated(p).AreaUnderRocCurve),
        ModelTask.MulticlassClassification => ("microAccuracy", p => ml.MulticlassClassification.Evaluate(p).MicroAccuracy),
        _ => ("r2", p => ml.Regression.Evaluate(p).RSquared),
    };

    // ML.NET refuses some metrics outright (AUC with one class present); for importance that means "not measurable".
    private static double SafeEvaluate(Func<double> evaluate)
    {
        try
        {
            return evaluate();
        }
        catch (ArgumentException)
        {
            return double.NaN;
        }
        catch (InvalidOperationException)
        {
            return double.NaN;
        }
    }

    private static int[] Shuffle(int rows, Random random)
    {
        var order = Enumerable.Range(0, rows).ToArray();
        random.Shuffle(order);
        return order;
    }

    /// <summary>The first <paramref name="maxRows"/> rows of the named columns, copied into buffers that can be reordered.</summary>
    private static (ColumnBuffer[] Columns, int Rows) Materialise(IDataView view, IReadOnlyList<string> names, int maxRows)
    {
        var columns = names.Select(n => view.Schema[n]).ToArray();
        var buffers = new ColumnBuffer[columns.Length];
        var copies = new Action[columns.Length];
        using var cursor = view.GetRowCursor(columns);
        for (var i = 0; i < columns.Length; i++)
        {
            (buffers[i], copies[i]) = columns[i].Type switch
            {
                BooleanDataViewType => Bind<bool>(cursor, columns[i], 1, v => v),
                // A cursor may reuse the memory behind a text value; the copy must own its characters.
                TextDataViewType => Bind<ReadOnlyMemory<char>>(cursor, columns[i], 16, v => v.ToString().AsMemory()),
                _ => Bind<float>(cursor, columns[i], 4, v => v),
            };
        }

        var rows = 0;
        while (rows < maxRows && cursor.MoveNext())
        {
            foreach (var copy in copies)
            {
                copy();
            }

            rows++;
        }

        return (buffers, rows);
    }

    private static (ColumnBuffer Buffer, Action Copy) Bind<T>(
        DataViewRowCursor cursor,
        DataViewSchema.Column column,
        int bytes,
        Func<T, T> own)
    {
        var buffer = new ColumnBuffer<T>(column.Name, column.Type, bytes);
        var getter = cursor.GetGetter<T>(column);
        return (buffer, () =>
        {
            T value = default!;
            getter(ref value);
            buffer.Add(own(value));
        }
        );
    }

    private static (List<string> Classes, long[][] Counts) MulticlassMatrix(IDataView predictions)
    {
        var labelColumn = predictions.Schema["Label"];
        VBuffer<ReadOnlyMemory<char>> keys = default;
        labelColumn.GetKeyValues(ref keys);
        var classes = keys.DenseValues().Select(k => k.ToString()).ToList();
        var counts = classes.Select(_ => new long[classes.Count]).ToArray();
        var predictedColumn = predictions.Schema["PredictedLabel"];
        using var cursor = predictions.GetRowCursor([labelColumn, predictedColumn]);
        var label = cursor.GetGetter<uint>(labelColumn);
        var predicted = cursor.GetGetter<uint>(predictedColumn);
        uint actual = 0, guess = 0;
        while (cursor.MoveNext())
        {
            label(ref actual);
            predicted(ref guess);
            // Key 0 is "missing": a test class never seen in training has no row of its own.
            if (actual is > 0 && guess is > 0 && actual <= classes.Count && guess <= classes.Count)
            {
                counts[actual - 1][guess - 1]++;
            }
        }

        return (classes, counts);
    }

    private static (List<string> Classes, long[][] Counts) BinaryMatrix(IDataView predictions)
    {
        var counts = new[] { new long[2], new long[2] };
        var labelColumn = predictions.Schema["Label"];
        var predictedColumn = predictions.Schema["PredictedLabel"];
        using var cursor = predictions.GetRowCursor([labelColumn, predictedColumn]);
        var label = cursor.GetGetter<bool>(labelColumn);
        var predicted = cursor.GetGetter<bool>(predictedColumn);
        bool actual = false, guess = false;
        while (cursor.MoveNext())
        {
            label(ref actual);
            predicted(ref guess);
            counts[actual ? 1 : 0][guess ? 1 : 0]++;
        }

        return (["false", "true"], counts);
    }

    /// <summary>Counts per class in one streaming pass; the span lookup spares a string per row on large tables.</summary>
    private static Dictionary<string, long> ClassCounts(ModelTask task, IDataView view)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        if (task == ModelTask.BinaryClassification)
        {
            foreach (var flag in Labels<bool>(view))
            {
                var name = flag ? "true" : "false";
                counts[name] = counts.GetValueOrDefault(name) + 1;
            }

            return counts;
        }

        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var text in Labels<ReadOnlyMemory<char>>(view))
        {
            var span = text.Span;
            lookup[span] = lookup.TryGetValue(span, out var count) ? count + 1 : 1;
        }

        return counts;
    }

    private static IEnumerable<T> Labels<T>(IDataView view)
    {
        var column = view.Schema["Label"];
        using var cursor = view.GetRowCursor([column]);
        var getter = cursor.GetGetter<T>(column);
        T value = default!;
        while (cursor.MoveNext())
        {
            getter(ref value);
            yield return value;
        }
    }

    private static LabelStatistics? Statistics(IEnumerable<double> values)
    {
        long count = 0;
        double mean = 0, m2 = 0, min = double.MaxValue, max = double.MinValue;
        foreach (var value in values)
        {
            // Welford: one pass, stable for large counts.
            count++;
            var delta = value - mean;
            mean += delta / count;
            m2 += delta * (value - mean);
            min = Math.Min(min, value);
            max = Math.Max(max, value);
        }

        return count == 0 ? null : new LabelStatistics(count, min, max, mean, count > 1 ? Math.Sqrt(m2 / (count - 1)) : 0);
    }

    private static double Percentile(List<double> sorted, double p)
    {
        if (sorted.Count == 0)
        {
            return 0;
        }

        var position = p * (sorted.Count - 1);
        var lower = (int)Math.Floor(position);
        var upper = Math.Min(lower + 1, sorted.Count - 1);
        return sorted[lower] + ((position - lower) * (sorted[upper] - sorted[lower]));
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    private static void Describe(object estimator, string prefix, IDictionary<string, string?> options, int depth)
    {
        for (var type = estimator.GetType(); type is not null; type = type.BaseType)
        {
            const BindingFlags Declared = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
            foreach (var field in type.GetFields(Declared))
            {
                var value = field.GetValue(estimator);
                if (value is TrainerInputBase input)
                {
                    foreach (var option in input.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public))
                    {
                        if (!option.Name.EndsWith(ColumnNameSuffix, StringComparison.Ordinal) && IsScalar(option.FieldType))
                        {
                            options.TryAdd(
                                prefix + option.Name,
                                option.GetValue(input) is { } set ? Convert.ToString(set, CultureInfo.InvariantCulture) : null);
                        }
                    }
                }
                else if (depth == 0 && value is IEstimator<ITransformer> inner && !ReferenceEquals(inner, estimator))
                {
                    // One-versus-all and the like: the binary trainer inside is what learns.
                    Describe(inner, inner.GetType().Name + ".", options, depth + 1);
                }
            }
        }
    }

    private static bool IsScalar(Type type)
    {
        var core = Nullable.GetUnderlyingType(type) ?? type;
        return core.IsPrimitive || core.IsEnum || core == typeof(string) || core == typeof(decimal);
    }
}
