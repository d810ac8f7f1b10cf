using System.Collections.Concurrent;
using System.Globalization;
using Formanova.Modules.Model.Onnx;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Errors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Formanova.Modules.Model.Inference;

/// <summary>
/// An ONNX version: a bounded pool of inference sessions (<c>Model:Onnx:SessionsPerModel</c>; a prediction waits for
/// a free one) and the plan that turns converted rows into the graph's input tensors and its outputs into predictions.
/// A chunk of rows is one run over tensors of N rows.
/// </summary>
internal sealed class OnnxBackend : ScoringBackend, IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentBag<OnnxWorker> _idle = [];
    private readonly Func<OnnxWorker> _create;
    private readonly bool _batches;
    private int _sessions = 1;
    private volatile bool _retired;

    private OnnxBackend(int sessions, Func<OnnxWorker> create, OnnxWorker first, bool batches)
    {
        _batches = batches;
        _slots = new SemaphoreSlim(sessions, sessions);
        _create = create;
        _idle.Add(first);
    }

    public static OnnxBackend Load(ModelVersionRow row, ColumnBinding[] bindings, Stream artifact, ModelOptions.OnnxOptions options)
    {
        using var buffer = new MemoryStream();
        artifact.CopyTo(buffer);
        var signature = row.Signature
            ?? throw new ModuleException(ErrorKind.Unprocessable, $"{row.Name} {row.Version} is an ONNX version without a signature.");
        string[] read = [.. new[] { signature.Outputs.Label, signature.Outputs.Score, signature.Outputs.Probabilities }.OfType<string>()];
        var bytes = OnnxGraph.KeepOutputs(buffer.ToArray(), read);
        var first = OnnxSessions.Create(bytes, options);
        var plan = OnnxPlan.Create(row, bindings, signature, first, options.MemoryArena);
        var sessions = options.SessionsPerModel > 0 ? options.SessionsPerModel : Environment.ProcessorCount;
        return new OnnxBackend(
            sessions,
            () => new OnnxWorker(plan, OnnxSessions.Create(bytes, options)),
            new OnnxWorker(plan, first),
            plan.Batches);
    }

    public override bool ScoresChunks => _batches;

    /// <summary>Sessions created so far: at most <c>Model:Onnx:SessionsPerModel</c> (they are made as demand needs them).</summary>
    public int Sessions => Volatile.Read(ref _sessions);

    /// <summary>Disposes the idle sessions; one still rented is disposed when it is returned.</summary>
    public void Dispose() => Retire();

    public override void Retire()
    {
        _retired = true;
        while (_idle.TryTake(out var worker))
        {
            worker.Dispose();
            Interlocked.Decrement(ref _sessions);
        }
    }

    public override ScoringWorker Rent()
    {
        _slots.Wait();
        if (_idle.TryTake(out var worker))
        {
            return worker;
        }

        try
        {
            var created = _create();
            Interlocked.Increment(ref _sessions);
            return created;
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    public override void Return(ScoringWorker worker)
    {
        if (worker.Broken || _retired)
        {
            ((OnnxWorker)worker).Dispose();
            Interlocked.Decrement(ref _sessions);
        }
        else
        {
            _idle.Add((OnnxWorker)worker);

            // Retire may have drained the pool between the check and the add.
            if (_retired && _idle.TryTake(out var late))
            {
                late.Dispose();
                Interlocked.Decrement(ref _sessions);
            }
        }

        _slots.Release();
    }

    /// <summary>A session and the plan; a session is not changed by a run, so one that threw is still good.</summary>
    private sealed class OnnxWorker(OnnxPlan plan, InferenceSession session) : ScoringWorker, IDisposable
    {
        private readonly NormalizedInput[] _one = new NormalizedInput[1];

        public override Prediction Predict(float[] floats, string[] texts)
        {
            _one[0] = new NormalizedInput(floats, texts);
            var outputs = plan.Run(session, _one);
            return plan.Full(outputs, 0);
        }

        public override CompactPrediction PredictCompact(float[] floats, string[] texts)
        {
            _one[0] = new NormalizedInput(floats, texts);
            var outputs = plan.Run(session, _one);
            return plan.Compact(outputs, 0);
        }

        public override void PredictChunk(ReadOnlySpan<NormalizedInput> rows, Span<Prediction> into)
        {
            if (!plan.Batches)
            {
                base.PredictChunk(rows, into);
                return;
            }

            var outputs = plan.Run(session, rows);
            for (var i = 0; i < rows.Length; i++)
            {
                into[i] = plan.Full(outputs, i);
            }
        }

        public override void PredictChunkCompact(ReadOnlySpan<NormalizedInput> rows, Span<CompactPrediction> into)
        {
            if (!plan.Batches)
            {
                base.PredictChunkCompact(rows, into);
                return;
            }

            var outputs = plan.Run(session, rows);
            for (var i = 0; i < rows.Length; i++)
            {
                into[i] = plan.Compact(outputs, i);
            }
        }

        public void Dispose() => session.Dispose();
    }
}

/// <summary>The outputs of one run, read into arrays: <c>Numbers</c> holds <c>Width</c> values per row.</summary>
internal sealed class OnnxOutputs
{
    public OnnxOutput? Label { get; init; }

    public OnnxOutput? Score { get; init; }

    public OnnxOutput? Probabilities { get; init; }
}

/// <summary>One output read: numbers (row-major, <see cref="Width"/> per row) or labels, and a ZipMap's keys.</summary>
internal sealed class OnnxOutput
{
    public float[]? Numbers { get; init; }

    public int Width { get; init; }

    public long[]? Integers { get; init; }

    public bool[]? Booleans { get; init; }

    public string[]? Strings { get; init; }

    /// <summary>The class keys of a sequence of maps, in the order of <see cref="Numbers"/>.</summary>
    public string[]? Keys { get; init; }
}

/// <summary>How rows become input tensors and outputs become predictions, for one version; shared by its sessions.</summary>
internal sealed class OnnxPlan : IDisposable
{
    private readonly ModelTask _task;
    private readonly InputPlan[] _inputs;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly OnnxOutputBinding _outputs;
    private readonly RunOptions _run = new() { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };

    // A run of many rows hands the arena's grown chunks back when it ends, so a session keeps what one row needs
    // rather than what its largest batch chunk needed.
    private readonly RunOptions? _shrinking;
    private readonly string[]? _classes;
    private string[]? _positional;

    private OnnxPlan(ModelTask task, InputPlan[] inputs, OnnxOutputBinding outputs, bool batches, bool arena)
    {
        if (arena)
        {
            _shrinking = new RunOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            _shrinking.AddRunConfigEntry("memory.enable_memory_arena_shrinkage", "cpu:0");
        }

        _task = task;
        _inputs = inputs;
        _inputNames = [.. inputs.Select(i => i.Name)];
        _outputs = outputs;
        _outputNames = [.. new[] { outputs.Label, outputs.Score, outputs.Probabilities }.OfType<string>().Distinct()];
        _classes = outputs.Classes?.ToArray();
        Batches = batches;
    }

    /// <summary>False when an input has a fixed first dimension of 1: such a graph is run a row at a time.</summary>
    public bool Batches { get; }

    public void Dispose()
    {
        _run.Dispose();
        _shrinking?.Dispose();
    }

    public static OnnxPlan Create(
        ModelVersionRow row,
        ColumnBinding[] bindings,
        OnnxSignature signature,
        InferenceSession session,
        bool arena)
    {
        var index = bindings.Select((b, i) => (b.Column.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
        var inputs = new List<InputPlan>();
        var batches = true;
        foreach (var binding in signature.Inputs)
        {
            if (!session.InputMetadata.ContainsKey(binding.Name)
                || OnnxSignatures.Layout(binding.Shape) is not (var batch, _)
                || binding.Columns.Any(c => !index.ContainsKey(c)))
            {
                throw new ModuleException(
                    ErrorKind.Unprocessable,
                    $"{row.Name} {row.Version}: the stored signature does not fit the graph's input '{binding.Name}'.");
            }

            batches &= batch == -1;
            var positions = new List<Position>();
            foreach (var column in binding.Columns)
            {
                if (binding.Categories?.GetValueOrDefault(column) is { } categories)
                {
                    positions.AddRange(categories.Select(c => new Position(index[column], c)));
                }
                else
                {
                    positions.Add(new Position(index[column], null));
                }
            }

            inputs.Add(new InputPlan(binding.Name, binding.ElementType, binding.Shape.Count, [.. positions], bindings));
        }

        var plan = new OnnxPlan(row.ModelTask, [.. inputs], signature.Outputs, batches, arena);
        plan.CheckFit(row, session, bindings.Length);
        return plan;
    }

    /// <summary>
    /// Runs rows of zeros and empty strings (two, when the graph batches, so that an output ignoring the batch shows)
    /// and checks that what comes out is what the task reads (422 otherwise).
    /// </summary>
    private void CheckFit(ModelVersionRow row, InferenceSession session, int width)
    {
        var probe = new NormalizedInput(new float[width], Enumerable.Repeat("", width).ToArray());
        OnnxOutputs outputs;
        try
        {
            outputs = Batches ? Run(session, [probe, probe]) : Run(session, [probe]);
        }
        catch (OnnxRuntimeException ex)
        {
            throw Unfit($"The graph failed on a sample row: {ex.Message}", "model", ex);
        }
        catch (InvalidOperationException ex)
        {
            throw Unfit(ex.Message, "signature.outputs", ex);
        }

        int Width(OnnxOutput? output) => output?.Numbers is null ? 0 : output.Width;
        var ranked = Width(outputs.Probabilities) > 0 ? outputs.Probabilities : outputs.Score;
        var problem = _task switch
        {
            ModelTask.Regression when Width(outputs.Score) != 1 =>
                $"A regression needs one float per row; the score output '{_outputs.Score}' gave {Width(outputs.Score)}.",
            ModelTask.MulticlassClassification when Width(ranked) < 2 =>
                "A multiclass classifier needs probabilities or scores over the classes; the outputs gave "
                + $"{Width(ranked)} per row.",
            ModelTask.MulticlassClassification when _classes is { } c && c.Length != Width(ranked) =>
                $"The outputs give {Width(ranked)} values per row for {c.Length} classes.",
            ModelTask.BinaryClassification when Width(ranked) > 2 =>
                $"A binary classifier gives one or two scores or probabilities per row; the outputs gave {Width(ranked)}.",
            ModelTask.BinaryClassification when outputs.Label is null && ranked is null =>
                "A binary classifier needs a label, a score or a probability output.",
            _ => null,
        };
        if (problem is not null)
        {
            throw Unfit($"{row.Name} {row.Version}: {problem}", "signature.outputs");
        }
    }

    private static ModuleException Unfit(string reason, string field, Exception? inner = null) =>
        new(ErrorKind.Unprocessable, reason, new Dictionary<string, string[]> { [field] = [reason] }, inner);

    public OnnxOutputs Run(InferenceSession session, ReadOnlySpan<NormalizedInput> rows)
    {
        var values = new OrtValue[_inputs.Length];
        try
        {
            for (var i = 0; i < _inputs.Length; i++)
            {
                values[i] = _inputs[i].Tensor(rows);
            }

            using var results = session.Run(rows.Length > 1 ? _shrinking ?? _run : _run, _inputNames, values, _outputNames);
            var count = rows.Length;
            OnnxOutput? Read(string? name) =>
                name is null ? null : OnnxOutputReader.Read(name, results[Array.IndexOf(_outputNames, name)], count);
            return new OnnxOutputs
            {
                Label = Read(_outputs.Label),
                Score = Read(_outputs.Score),
                Probabilities = Read(_outputs.Probabilities),
            };
        }
        finally
        {
            foreach (var value in values)
            {
                value?.Dispose();
            }
        }
    }

    public Prediction Full(OnnxOutputs outputs, int row)
    {
        switch (_task)
        {
            case ModelTask.BinaryClassification:
                var (label, score, probability) = Binary(outputs, row);
                var byClass = probability is { } p ? new BinaryProbabilities(p) : null;
                return new Prediction(label ? "true" : "false", null, Finite(score), null, byClass);
            case ModelTask.MulticlassClassification:
                var (name, best) = Multiclass(outputs, row);
                var scores = ByClass(outputs.Score ?? outputs.Probabilities, row);
                var probabilities = outputs.Probabilities is null ? scores : ByClass(outputs.Probabilities, row);
                return new Prediction(name, null, Finite(best), scores, probabilities);
            default:
                var value = Finite(Regression(outputs, row));
                return new Prediction(null, value, value, null, null);
        }
    }

    public CompactPrediction Compact(OnnxOutputs outputs, int row)
    {
        switch (_task)
        {
            case ModelTask.BinaryClassification:
                var (label, score, _) = Binary(outputs, row);
                return new CompactPrediction(label ? "true" : "false", null, Finite(score));
            case ModelTask.MulticlassClassification:
                var (name, best) = Multiclass(outputs, row);
                return new CompactPrediction(name, null, Finite(best));
            default:
                var value = Finite(Regression(outputs, row));
                return new CompactPrediction(null, value, value);
        }
    }

    // A graph may answer NaN (a missing value it does not handle): the prediction then has no number, rather than one
    // that JSON cannot carry.
    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    private static double Regression(OnnxOutputs outputs, int row) =>
        outputs.Score is { Numbers: { } n, Width: var w } ? n[row * w] : double.NaN;

    // The positive class is the second of two (scikit-learn's classes_[1]), or the only column of a one-column output.
    private (bool Label, double Score, float? Probability) Binary(OnnxOutputs outputs, int row)
    {
        float? probability = outputs.Probabilities is { Numbers: { } p, Width: var pw } && float.IsFinite(p[(row * pw) + pw - 1])
            ? p[(row * pw) + pw - 1]
            : null;
        double? score = outputs.Score is { Numbers: { } s, Width: var sw } ? s[(row * sw) + sw - 1] : null;
        var positive = Classes(outputs.Probabilities ?? outputs.Score) is { Length: 2 } classes ? classes[1] : null;
        bool label = outputs.Label switch
        {
            { Booleans: { } b } => b[row],
            { Integers: { } i } => positive is null ? i[row] == 1 : i[row].ToString(CultureInfo.InvariantCulture) == positive,
            { Strings: { } t } => positive is null ? ValueConverter.BinaryLabel(t[row]) ?? false : t[row] == positive,
            _ => probability is { } q ? q >= 0.5f : score > 0,
        };
        return (label, score ?? probability ?? (label ? 1 : 0), probability);
    }

    private (string? Label, double Score) Multiclass(OnnxOutputs outputs, int row)
    {
        var ranked = outputs.Probabilities ?? outputs.Score;
        var classes = Classes(ranked);
        if (ranked is not { Numbers: { } n, Width: var w } || w == 0)
        {
            return (outputs.Label is null ? null : LabelText(outputs.Label, row, classes), double.NaN);
        }

        var best = 0;
        var offset = row * w;
        if (!AllFinite(n.AsSpan(offset, w)))
        {
            return (outputs.Label is null ? null : LabelText(outputs.Label, row, classes), double.NaN);
        }

        if (outputs.Label is { } labelOutput && LabelText(labelOutput, row, classes) is { } named
            && Array.IndexOf(classes, named) is >= 0 and var at)
        {
            best = at;
        }
        else
        {
            for (var i = 1; i < w; i++)
            {
                if (n[offset + i] > n[offset + best])
                {
                    best = i;
                }
            }
        }

        var scored = outputs.Score is { Numbers: { } s, Width: var sw } && sw == w ? s[offset + best] : n[offset + best];
        return (classes[best], scored);
    }

    // An integer label is a class value when a class has that name (scikit-learn's int classes), else a class index.
    private static string? LabelText(OnnxOutput label, int row, string[] classes) => label switch
    {
        { Strings: { } t } => t[row],
        { Integers: { } i } => IntegerLabel(i[row], classes),
        { Booleans: { } b } => b[row] ? "true" : "false",
        _ => null,
    };

    private static string IntegerLabel(long value, string[] classes)
    {
        var text = value.ToString(CultureInfo.InvariantCulture);
        return Array.IndexOf(classes, text) < 0 && value >= 0 && value < classes.Length ? classes[value] : text;
    }

    private Dictionary<string, double>? ByClass(OnnxOutput? output, int row)
    {
        if (output is not { Numbers: { } n, Width: var w })
        {
            return null;
        }

        if (!AllFinite(n.AsSpan(row * w, w)))
        {
            return null;
        }

        var classes = Classes(output);
        var byClass = new Dictionary<string, double>(w, StringComparer.Ordinal);
        for (var i = 0; i < w; i++)
        {
            byClass[classes[i]] = n[(row * w) + i];
        }

        return byClass;
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (var value in values)
        {
            if (!float.IsFinite(value))
            {
                return false;
            }
        }

        return true;
    }

    // The signature's class names, else a ZipMap's keys, else the positions.
    private string[] Classes(OnnxOutput? output)
    {
        var width = output?.Width ?? 0;
        if (_classes is { } classes && classes.Length == width)
        {
            return classes;
        }

        if (output?.Keys is { } keys)
        {
            return keys;
        }

        // Published whole, so a racing reader sees either array, both right for their width.
        var positional = _positional;
        if (positional is null || positional.Length != width)
        {
            _positional = positional = [.. Enumerable.Range(0, width).Select(i => i.ToString(CultureInfo.InvariantCulture))];
        }

        return positional;
    }

    private readonly record struct Position(int Slot, string? Category);

    /// <summary>One graph input: which slot (or one-hot category of a slot) goes to each position of a row.</summary>
    private sealed class InputPlan(string name, OnnxElementType type, int rank, Position[] positions, ColumnBinding[] bindings)
    {
        public string Name => name;

        public OrtValue Tensor(ReadOnlySpan<NormalizedInput> rows)
        {
            var width = positions.Length;
            long[] shape = rank == 1 ? [rows.Length] : [rows.Length, width];
            if (type == OnnxElementType.String)
            {
                var strings = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
                for (var r = 0; r < rows.Length; r++)
                {
                    for (var p = 0; p < width; p++)
                    {
                        strings.StringTensorSetElementAt(rows[r].Texts[positions[p].Slot].AsSpan(), (r * width) + p);
                    }
                }

                return strings;
            }

            var floats = new float[rows.Length * width];
            for (var r = 0; r < rows.Length; r++)
            {
                for (var p = 0; p < width; p++)
                {
                    var position = positions[p];
                    floats[(r * width) + p] = position.Category is { } category
                        ? rows[r].Texts[position.Slot] == category ? 1f : 0f
                        : rows[r].Floats[position.Slot];
                }
            }

            return type switch
            {
                OnnxElementType.Float => OrtValue.CreateTensorValueFromMemory(floats, shape),
                OnnxElementType.Double => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(floats, f => (double)f), shape),
                OnnxElementType.Int64 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(Whole(floats), f => (long)f), shape),
                OnnxElementType.Int32 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(Whole(floats), f => (int)f), shape),
                _ => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(Whole(floats), f => f != 0), shape),
            };
        }

        // An integer or bool tensor has no missing value and no fraction: such a value is the caller's error.
        private float[] Whole(float[] values)
        {
            for (var i = 0; i < values.Length; i++)
            {
                if (float.IsNaN(values[i]) || values[i] != MathF.Round(values[i]))
                {
                    var column = bindings[positions[i % positions.Length].Slot].Column.Name;
                    var got = float.IsNaN(values[i]) ? "null" : values[i].ToString(CultureInfo.InvariantCulture);
                    var reason = $"Column '{column}' feeds the {type.ToString().ToLowerInvariant()} input '{name}', which takes whole "
                        + $"numbers and no missing value; got {got}.";
                    throw new ModuleException(ErrorKind.Invalid, reason, new Dictionary<string, string[]> { [column] = [reason] });
                }
            }

            return values;
        }
    }
}

/// <summary>Reads an output value (a tensor, or a ZipMap's sequence of maps) into an <see cref="OnnxOutput"/>.</summary>
internal static class OnnxOutputReader
{
    /// <summary>An output of <paramref name="rows"/> rows, or InvalidOperationException when it has another number.</summary>
    public static OnnxOutput Read(string name, OrtValue value, int rows)
    {
        if (value.OnnxType == OnnxValueType.ONNX_TYPE_SEQUENCE)
        {
            var maps = ReadMaps(value);
            return value.GetValueCount() == rows ? maps : throw Misshapen(name, value.GetValueCount(), rows);
        }

        var info = value.GetTensorTypeAndShape();
        var width = rows == 0 ? 0 : (int)(info.ElementCount / rows);
        if (width == 0 || info.ElementCount != (long)width * rows)
        {
            throw Misshapen(name, info.ElementCount, rows);
        }

        switch (info.ElementDataType)
        {
            case TensorElementType.Float:
                return new OnnxOutput { Numbers = value.GetTensorDataAsSpan<float>().ToArray(), Width = width };
            case TensorElementType.Double:
                var doubles = value.GetTensorDataAsSpan<double>();
                var numbers = new float[doubles.Length];
                for (var i = 0; i < doubles.Length; i++)
                {
                    numbers[i] = (float)doubles[i];
                }

                return new OnnxOutput { Numbers = numbers, Width = width };
            case TensorElementType.Int64:
                return new OnnxOutput { Integers = value.GetTensorDataAsSpan<long>().ToArray(), Width = width };
            case TensorElementType.Int32:
                var integers = Array.ConvertAll(value.GetTensorDataAsSpan<int>().ToArray(), i => (long)i);
                return new OnnxOutput { Integers = integers, Width = width };
            case TensorElementType.Bool:
                return new OnnxOutput { Booleans = value.GetTensorDataAsSpan<bool>().ToArray(), Width = width };
            case TensorElementType.String:
                return new OnnxOutput { Strings = value.GetStringTensorAsArray(), Width = width };
            default:
                throw new InvalidOperationException($"An output of element type {info.ElementDataType} cannot be read.");
        }
    }

    private static InvalidOperationException Misshapen(string name, long values, int rows) =>
        new($"Output '{name}' gave {values} values for {rows} rows; it must give one or more per row.");

    // ZipMap: one map per row, class to probability, every map with the same keys in the same order.
    private static OnnxOutput ReadMaps(OrtValue sequence)
    {
        var allocator = OrtAllocator.DefaultInstance;
        var count = sequence.GetValueCount();
        string[]? keys = null;
        float[]? numbers = null;
        for (var r = 0; r < count; r++)
        {
            using var map = sequence.GetValue(r, allocator);
            using var mapKeys = map.GetValue(0, allocator);
            using var mapValues = map.GetValue(1, allocator);
            if (keys is null)
            {
                keys = mapKeys.GetTensorTypeAndShape().ElementDataType == TensorElementType.String
                    ? mapKeys.GetStringTensorAsArray()
                    : Array.ConvertAll(mapKeys.GetTensorDataAsSpan<long>().ToArray(), k => k.ToString(CultureInfo.InvariantCulture));
                numbers = new float[count * keys.Length];
            }

            mapValues.GetTensorDataAsSpan<float>().CopyTo(numbers.AsSpan(r * keys.Length, keys.Length));
        }

        return new OnnxOutput { Numbers = numbers ?? [], Width = keys?.Length ?? 0, Keys = keys };
    }
}
