using Formanova.Modules.Model.Registry;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Formanova.Modules.Model.Inference;

/// <summary>What every engine writes; only the members the task maps are bound.</summary>
internal sealed class SlotOutput
{
    // ML.NET binds prediction output to public fields; properties would cost a getter per slot per call.
#pragma warning disable CA1051, SA1401
    public bool PredictedLabel;
    public float Score;
    public float[]? Scores;
    public float Probability;
#pragma warning restore CA1051, SA1401
}

/// <summary>A feature column and the slot of <see cref="SlotRow"/> that carries it.</summary>
internal readonly record struct ColumnBinding(ModelColumn Column, bool IsFloat, int Slot);

/// <summary>A prediction engine with its own row and output objects, so a rented worker allocates nothing per call.</summary>
internal sealed class EngineWorker(PredictionEngine<SlotRow, SlotOutput> engine)
{
    public PredictionEngine<SlotRow, SlotOutput> Engine { get; } = engine;

    public SlotRow Row { get; } = new();

#pragma warning disable SA1401 // passed by ref to PredictionEngine.Predict, which needs a field
    public SlotOutput Output = new();
#pragma warning restore SA1401

    /// <summary>Set when the engine threw and was disposed: it may hold half-written state and is never pooled again.</summary>
    public bool Broken { get; set; }
}

/// <summary>One (model, version) in memory: the transformer, its input bindings and a pool of engines.</summary>
internal sealed class LoadedModel
{
    private readonly ObjectPool<EngineWorker> _pool;
    private readonly string[] _classes;
    private readonly bool _hasProbability;

    private LoadedModel(
        ModelVersionRow row,
        ModelSchema schema,
        ColumnBinding[] bindings,
        ObjectPool<EngineWorker> pool,
        string[] classes,
        bool hasProbability)
    {
        Name = row.Name;
        Version = row.Version;
        Task = row.ModelTask;
        CacheGeneration = row.CacheGeneration;
        Schema = schema;
        Bindings = bindings;
        _pool = pool;
        _classes = classes;
        _hasProbability = hasProbability;
    }

    public string Name { get; }

    public string Version { get; }

    public ModelTask Task { get; }

    public long CacheGeneration { get; }

    public ModelSchema Schema { get; }

    public ColumnBinding[] Bindings { get; }

    /// <summary>Loads a model zip for the schema, failing with 422 when the zip cannot serve it, then probes one engine.</summary>
    public static LoadedModel Load(ModelVersionRow row, Stream zip, int enginesPerModel)
    {
        var schema = ModelSchema.Validate(row.Columns.Where(c => !c.IsLabel).ToList(), row.ModelTask, requireLabel: false, int.MaxValue);
        var ml = new MLContext();
        ITransformer transformer;
        DataViewSchema output;
        try
        {
            transformer = ml.Model.Load(zip, out _);
            output = transformer.GetOutputSchema(ModelTrainer.InputSchema(schema));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ModuleException(
                ErrorKind.Unprocessable,
                $"{row.Name} {row.Version} is not an ML.NET model that accepts this schema: {ex.Message}",
                inner: ex);
        }

        var bindings = Bind(schema);
        var (outputDefinition, classes, hasProbability) = DescribeOutput(row, output);
        var inputDefinition = InputDefinition(bindings);
        var policy = new EnginePolicy(() => new EngineWorker(
            ml.Model.CreatePredictionEngine<SlotRow, SlotOutput>(transformer, false, inputDefinition, outputDefinition)));
        var pool = new DefaultObjectPool<EngineWorker>(policy, enginesPerModel > 0 ? enginesPerModel : Environment.ProcessorCount * 2);
        var model = new LoadedModel(row, schema, bindings, pool, classes, hasProbability);
        try
        {
            model.Probe();
        }
        catch (Exception ex) when (ex is not ModuleException)
        {
            throw new ModuleException(
                ErrorKind.Unprocessable,
                $"{row.Name} {row.Version} loaded but failed on a probe row: {ex.Message}",
                inner: ex);
        }

        return model;
    }

    /// <summary>Runs the engine on values already converted by <see cref="InputNormalizer"/>.</summary>
    public Prediction Predict(float[] floats, string[] texts)
    {
        var worker = Rent();
        try
        {
            return Predict(worker, floats, texts);
        }
        finally
        {
            Return(worker);
        }
    }

    /// <summary>An engine held for a run of predictions (a batch chunk); disposing gives it back, unless it broke.</summary>
    public EngineLease Lease() => new(this, Rent());

    private EngineWorker Rent() => _pool.Get();

    private void Return(EngineWorker worker)
    {
        if (!worker.Broken)
        {
            _pool.Return(worker);
        }
    }

    /// <summary>
    /// One prediction on a rented engine. An engine that throws is disposed and marked broken, and the pool builds a
    /// fresh one.
    /// </summary>
    private Prediction Predict(EngineWorker worker, float[] floats, string[] texts) => Map(Run(worker, floats, texts));

    private SlotOutput Run(EngineWorker worker, float[] floats, string[] texts)
    {
        try
        {
            var row = worker.Row;
            for (var i = 0; i < Bindings.Length; i++)
            {
                var binding = Bindings[i];
                if (binding.IsFloat)
                {
                    row.Float(binding.Slot) = floats[i];
                }
                else
                {
                    row.SetText(binding.Slot, texts[i]);
                }
            }

            worker.Engine.Predict(row, ref worker.Output);
            return worker.Output;
        }
        catch
        {
            worker.Broken = true;
            worker.Engine.Dispose();
            throw;
        }
    }

    private void Probe()
    {
        var floats = new float[Bindings.Length];
        Array.Fill(floats, float.NaN);
        var texts = Enumerable.Repeat("", Bindings.Length).ToArray();
        Predict(floats, texts);
    }

    private Prediction Map(SlotOutput output)
    {
        var (label, value, score) = Compact(output);
        switch (Task)
        {
            case ModelTask.BinaryClassification:
                return new Prediction(label, value, score, null, _hasProbability ? new BinaryProbabilities(output.Probability) : null);
            case ModelTask.MulticlassClassification:
                var scores = output.Scores ?? [];
                var byClass = new Dictionary<string, double>(scores.Length);
                for (var i = 0; i < scores.Length; i++)
                {
                    byClass[ClassName(i)] = scores[i];
                }

                return new Prediction(label, value, score, byClass, byClass);
            default:
                return new Prediction(label, value, score, null, null);
        }
    }

    /// <summary>Label, value and score alone: what a batch stores, without the per-row class dictionaries.</summary>
    private CompactPrediction Compact(SlotOutput output)
    {
        switch (Task)
        {
            case ModelTask.BinaryClassification:
                return new CompactPrediction(output.PredictedLabel ? "true" : "false", null, output.Score);
            case ModelTask.MulticlassClassification:
                var scores = output.Scores ?? [];
                if (scores.Length == 0)
                {
                    return default;
                }

                var best = 0;
                for (var i = 1; i < scores.Length; i++)
                {
                    if (scores[i] > scores[best])
                    {
                        best = i;
                    }
                }

                return new CompactPrediction(ClassName(best), null, scores[best]);
            default:
                return new CompactPrediction(null, output.Score, output.Score);
        }
    }

    private string ClassName(int index)
        => index < _classes.Length ? _classes[index] : index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static ColumnBinding[] Bind(ModelSchema schema)
    {
        int floats = 0, texts = 0;
        return [
            .. schema.Features
            .Select(c => ModelSchema.IsFloat(c.Kind) ? new ColumnBinding(c, true, floats++) : new ColumnBinding(c, false, texts++))
        ];
    }

    private static SchemaDefinition InputDefinition(ColumnBinding[] bindings)
    {
        var all = SchemaDefinition.Create(typeof(SlotRow), SchemaDefinition.Direction.Read);
        var byMember = all.ToDictionary(c => c.MemberName);
        var definition = SchemaDefinition.Create(typeof(SlotRow), SchemaDefinition.Direction.Read);
        definition.Clear();
        foreach (var binding in bindings)
        {
            var column = byMember[(binding.IsFloat ? "F" : "T") + binding.Slot.ToString(System.Globalization.CultureInfo.InvariantCulture)];
            column.ColumnName = binding.Column.Name;
            definition.Add(column);
        }

        return definition;
    }

    private static (SchemaDefinition Definition, string[] Classes, bool HasProbability) DescribeOutput(
        ModelVersionRow row,
        DataViewSchema output)
    {
        var definition = SchemaDefinition.Create(typeof(SlotOutput), SchemaDefinition.Direction.Write);
        var members = definition.ToDictionary(c => c.MemberName);
        definition.Clear();

        void Require(string member, string column, Func<DataViewType, bool> fits)
        {
            var found = output.GetColumnOrNull(column);
            if (found is null || !fits(found.Value.Type))
            {
                throw new ModuleException(
                    ErrorKind.Unprocessable,
                    $"{row.Name} {row.Version}: a {row.ModelTask} model must output a '{column}' column of the usual type.");
            }

            members[member].ColumnName = column;
            definition.Add(members[member]);
        }

        var classes = Array.Empty<string>();
        var hasProbability = false;
        switch (row.ModelTask)
        {
            case ModelTask.BinaryClassification:
                Require(nameof(SlotOutput.PredictedLabel), "PredictedLabel", t => t is BooleanDataViewType);
                Require(nameof(SlotOutput.Score), "Score", t => t == NumberDataViewType.Single);
                if (output.GetColumnOrNull("Probability") is { Type: var p } && p == NumberDataViewType.Single)
                {
                    Require(nameof(SlotOutput.Probability), "Probability", _ => true);
                    hasProbability = true;
                }

                break;
            case ModelTask.MulticlassClassification:
                Require(
                    nameof(SlotOutput.Scores),
                    "Score",
                    t => t is VectorDataViewType { ItemType: var item } && item == NumberDataViewType.Single);
                var score = output["Score"];
                if (score.HasSlotNames())
                {
                    VBuffer<ReadOnlyMemory<char>> names = default;
                    score.GetSlotNames(ref names);
                    classes = [.. names.DenseValues().Select(n => n.ToString())];
                }

                break;
            default:
                Require(nameof(SlotOutput.Score), "Score", t => t == NumberDataViewType.Single);
                break;
        }

        return (definition, classes, hasProbability);
    }

    /// <summary>One rented engine; predictions through it skip the pool.</summary>
    internal sealed class EngineLease(LoadedModel model, EngineWorker worker) : IDisposable
    {
        public Prediction Predict(float[] floats, string[] texts) => model.Predict(worker, floats, texts);

        public CompactPrediction PredictCompact(float[] floats, string[] texts) => model.Compact(model.Run(worker, floats, texts));

        public void Dispose() => model.Return(worker);
    }

    private sealed class EnginePolicy(Func<EngineWorker> create) : PooledObjectPolicy<EngineWorker>
    {
        public override EngineWorker Create() => create();

        public override bool Return(EngineWorker obj) => true;
    }
}

internal readonly record struct CompactPrediction(string? Label, double? Value, double? Score);

internal readonly record struct Prediction(
    string? Label,
    double? Value,
    double? Score,
    IReadOnlyDictionary<string, double>? Scores,
    IReadOnlyDictionary<string, double>? Probabilities);

/// <summary>
/// The two class probabilities of a binary prediction, <c>true</c> then <c>false</c>, as a read-only dictionary. A
/// batch makes one per row, and a general dictionary allocates buckets and entries and hashes both keys for it.
/// </summary>
internal sealed class BinaryProbabilities(float probability) : IReadOnlyDictionary<string, double>
{
    private const string True = "true";
    private const string False = "false";

    public int Count => 2;

    // Computed in float, as the dictionary this replaced did, so the values served do not change.
    private double FalseProbability => 1 - probability;

    public IEnumerable<string> Keys => [True, False];

    public IEnumerable<double> Values => [probability, FalseProbability];

    public double this[string key] => TryGetValue(key, out var value)
        ? value
        : throw new KeyNotFoundException($"No class '{key}'; a binary prediction has 'true' and 'false'.");

    public bool ContainsKey(string key) => key is True or False;

    public bool TryGetValue(string key, out double value)
    {
        value = key switch
        {
            True => probability,
            False => FalseProbability,
            _ => 0,
        };
        return ContainsKey(key);
    }

    public IEnumerator<KeyValuePair<string, double>> GetEnumerator()
    {
        yield return new KeyValuePair<string, double>(True, probability);
        yield return new KeyValuePair<string, double>(False, FalseProbability);
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
