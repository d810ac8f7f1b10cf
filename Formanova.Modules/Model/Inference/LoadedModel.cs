using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model.Inference;

/// <summary>A feature column and the slot of <see cref="SlotRow"/> that carries it.</summary>
internal readonly record struct ColumnBinding(ModelColumn Column, bool IsFloat, int Slot);

/// <summary>
/// One (model, version) in memory: its input bindings and the backend that scores it, ML.NET engines or ONNX
/// Runtime sessions (<see cref="ScoringBackend"/>). Every serving path scores through here.
/// </summary>
internal sealed class LoadedModel
{
    private readonly ScoringBackend _backend;

    private LoadedModel(ModelVersionRow row, ModelSchema schema, ColumnBinding[] bindings, ScoringBackend backend)
    {
        Name = row.Name;
        Version = row.Version;
        Task = row.ModelTask;
        Framework = row.ModelFramework;
        CacheGeneration = row.CacheGeneration;
        Schema = schema;
        Bindings = bindings;
        _backend = backend;
    }

    public string Name { get; }

    public string Version { get; }

    public ModelTask Task { get; }

    public ModelFramework Framework { get; }

    public long CacheGeneration { get; }

    public ModelSchema Schema { get; }

    public ColumnBinding[] Bindings { get; }

    /// <summary>The classes a classifier gives probabilities for (ordinal order), from the probe; null when it gives none.</summary>
    public IReadOnlyList<string>? Classes { get; private set; }

    /// <summary>True when the backend scores a chunk of rows as one run, so a batch hands it whole chunks.</summary>
    public bool ScoresChunks => _backend.ScoresChunks;

    internal ScoringBackend Backend => _backend;

    /// <summary>
    /// Loads a version's artifact (an ML.NET zip, or an ONNX graph when the row says so) for its schema, failing with
    /// 422 when it cannot serve it, then probes one worker.
    /// </summary>
    public static LoadedModel Load(ModelVersionRow row, Stream artifact, int enginesPerModel, ModelOptions.OnnxOptions? onnx = null)
    {
        var schema = SchemaOf(row);
        var bindings = Bind(schema);
        ScoringBackend backend = row.ModelFramework switch
        {
            ModelFramework.Onnx => OnnxBackend.Load(row, bindings, artifact, onnx ?? new ModelOptions.OnnxOptions()),
            ModelFramework.Ensemble => throw new ModuleException(
                ErrorKind.Unprocessable,
                $"{row.Name} {row.Version} is an ensemble; the runtime loads it from its members."),
            _ => MlnetBackend.Load(row, schema, bindings, artifact, enginesPerModel),
        };
        return Probed(row, schema, bindings, backend);
    }

    /// <summary>A version whose backend is already built (an ensemble over its members' loaded models), probed.</summary>
    public static LoadedModel Create(ModelVersionRow row, ScoringBackend backend)
    {
        var schema = SchemaOf(row);
        return Probed(row, schema, Bind(schema), backend);
    }

    private static ModelSchema SchemaOf(ModelVersionRow row) => ModelSchema.Validate(
        row.Columns.Where(c => !c.IsLabel).ToList(),
        row.ModelTask,
        requireLabel: false,
        int.MaxValue,
        row.ModelFramework);

    private static LoadedModel Probed(ModelVersionRow row, ModelSchema schema, ColumnBinding[] bindings, ScoringBackend backend)
    {
        var model = new LoadedModel(row, schema, bindings, backend);
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

    /// <summary>Runs the backend on values already converted by <see cref="InputNormalizer"/>.</summary>
    public Prediction Predict(float[] floats, string[] texts)
    {
        var worker = _backend.Rent();
        try
        {
            return worker.Predict(floats, texts);
        }
        finally
        {
            _backend.Return(worker);
        }
    }

    /// <summary>A worker held for a run of predictions (a batch chunk); disposing gives it back, unless it broke.</summary>
    public EngineLease Lease() => new(_backend, _backend.Rent());

    public static ColumnBinding[] Bind(ModelSchema schema)
    {
        int floats = 0, texts = 0;
        return [
            .. schema.Features
            .Select(c => ModelSchema.IsFloat(c.Kind) ? new ColumnBinding(c, true, floats++) : new ColumnBinding(c, false, texts++))
        ];
    }

    // NaN and "" are what a request of nulls sends; an ONNX integer input cannot take NaN, so its probe (and an
    // ensemble's, which may have ONNX members) sends zeros.
    private void Probe()
    {
        var floats = new float[Bindings.Length];
        Array.Fill(floats, Framework == ModelFramework.Mlnet ? float.NaN : 0f);
        var texts = Enumerable.Repeat("", Bindings.Length).ToArray();
        var probabilities = Predict(floats, texts).Probabilities;
        Classes = probabilities is null ? null : [.. probabilities.Keys.Order(StringComparer.Ordinal)];
    }

    /// <summary>One rented worker; predictions through it skip the pool.</summary>
    internal sealed class EngineLease(ScoringBackend backend, ScoringWorker worker) : IDisposable
    {
        public Prediction Predict(float[] floats, string[] texts) => worker.Predict(floats, texts);

        public CompactPrediction PredictCompact(float[] floats, string[] texts) => worker.PredictCompact(floats, texts);

        public void PredictChunk(ReadOnlySpan<NormalizedInput> rows, Span<Prediction> into) => worker.PredictChunk(rows, into);

        public void PredictChunkCompact(ReadOnlySpan<NormalizedInput> rows, Span<CompactPrediction> into)
            => worker.PredictChunkCompact(rows, into);

        public void Dispose() => backend.Return(worker);
    }
}

internal readonly record struct CompactPrediction(string? Label, double? Value, double? Score);

internal readonly record struct Prediction(
    string? Label,
    double? Value,
    double? Score,
    IReadOnlyDictionary<string, double>? Scores,
    IReadOnlyDictionary<string, double>? Probabilities,
    IReadOnlyList<MemberPrediction>? Members = null);

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
