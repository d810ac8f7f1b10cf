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

/// <summary>An ML.NET model zip: a pool of prediction engines over its transformer.</summary>
internal sealed class MlnetBackend : ScoringBackend
{
    private readonly ObjectPool<EngineWorker> _pool;

    private MlnetBackend(ObjectPool<EngineWorker> pool) => _pool = pool;

    /// <summary>Loads a model zip for the schema, failing with 422 when the zip cannot serve it.</summary>
    public static MlnetBackend Load(ModelVersionRow row, ModelSchema schema, ColumnBinding[] bindings, Stream zip, int enginesPerModel)
    {
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

        var (outputDefinition, classes, hasProbability) = DescribeOutput(row, output);
        var inputDefinition = InputDefinition(bindings);
        var mapping = new OutputMapping(row.ModelTask, bindings, classes, hasProbability);
        var policy = new EnginePolicy(() => new EngineWorker(
            ml.Model.CreatePredictionEngine<SlotRow, SlotOutput>(transformer, false, inputDefinition, outputDefinition),
            mapping));
        return new MlnetBackend(
            new DefaultObjectPool<EngineWorker>(policy, enginesPerModel > 0 ? enginesPerModel : Environment.ProcessorCount * 2));
    }

    public override ScoringWorker Rent() => _pool.Get();

    public override void Return(ScoringWorker worker)
    {
        if (!worker.Broken)
        {
            _pool.Return((EngineWorker)worker);
        }
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

    /// <summary>How an engine's output becomes a prediction, shared by the engines of one version.</summary>
    private sealed class OutputMapping(ModelTask task, ColumnBinding[] bindings, string[] classes, bool hasProbability)
    {
        public ColumnBinding[] Bindings => bindings;

        public Prediction Map(SlotOutput output)
        {
            var (label, value, score) = Compact(output);
            switch (task)
            {
                case ModelTask.BinaryClassification:
                    return new Prediction(label, value, score, null, hasProbability ? new BinaryProbabilities(output.Probability) : null);
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

        public CompactPrediction Compact(SlotOutput output)
        {
            switch (task)
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
            => index < classes.Length ? classes[index] : index.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A prediction engine with its own row and output objects, so a rented worker allocates nothing per call.</summary>
    private sealed class EngineWorker(PredictionEngine<SlotRow, SlotOutput> engine, OutputMapping mapping) : ScoringWorker
    {
        private readonly SlotRow _row = new();

        // Passed by ref to PredictionEngine.Predict, which needs a field.
        private SlotOutput _output = new();

        public override Prediction Predict(float[] floats, string[] texts) => mapping.Map(Run(floats, texts));

        public override CompactPrediction PredictCompact(float[] floats, string[] texts) => mapping.Compact(Run(floats, texts));

        /// <summary>An engine that throws is disposed and marked broken, and the pool builds a fresh one.</summary>
        private SlotOutput Run(float[] floats, string[] texts)
        {
            try
            {
                var bindings = mapping.Bindings;
                for (var i = 0; i < bindings.Length; i++)
                {
                    var binding = bindings[i];
                    if (binding.IsFloat)
                    {
                        _row.Float(binding.Slot) = floats[i];
                    }
                    else
                    {
                        _row.SetText(binding.Slot, texts[i]);
                    }
                }

                engine.Predict(_row, ref _output);
                return _output;
            }
            catch
            {
                Broken = true;
                engine.Dispose();
                throw;
            }
        }
    }

    private sealed class EnginePolicy(Func<EngineWorker> create) : PooledObjectPolicy<EngineWorker>
    {
        public override EngineWorker Create() => create();

        public override bool Return(EngineWorker obj) => true;
    }
}
