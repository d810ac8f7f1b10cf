using System.IO.Compression;
using System.Text.Json;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.ObjectPool;

namespace Formanova.Modules.Model.Inference;

/// <summary>
/// An ensemble's artifact, <c>ensemble.zip</c>: <c>ensemble.json</c> (the <see cref="EnsembleInfo"/> manifest, members
/// pinned to versions) and, for stacking, <c>meta-learner.zip</c>, the ML.NET model fit on the members' outputs.
/// </summary>
internal sealed record EnsembleArtifact(EnsembleInfo Info, byte[]? MetaLearner)
{
    private const string ManifestEntry = "ensemble.json";
    private const string MetaLearnerEntry = "meta-learner.zip";

    public byte[] ToBytes()
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            // A fixed timestamp: the same ensemble gives the same bytes, so the same SHA-256.
            var manifest = zip.CreateEntry(ManifestEntry, CompressionLevel.Optimal);
            manifest.LastWriteTime = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
            using (var stream = manifest.Open())
            {
                JsonSerializer.Serialize(stream, Info, RegistryJson.Options);
            }

            if (MetaLearner is not null)
            {
                var meta = zip.CreateEntry(MetaLearnerEntry, CompressionLevel.NoCompression);
                meta.LastWriteTime = manifest.LastWriteTime;
                using var stream = meta.Open();
                stream.Write(MetaLearner);
            }
        }

        return buffer.ToArray();
    }

    public static EnsembleArtifact Read(ModelVersionRow row, Stream artifact)
    {
        try
        {
            using var zip = new ZipArchive(artifact, ZipArchiveMode.Read, leaveOpen: true);
            var manifest = zip.GetEntry(ManifestEntry) ?? throw new InvalidDataException($"it has no {ManifestEntry}");
            EnsembleInfo info;
            using (var stream = manifest.Open())
            {
                info = JsonSerializer.Deserialize<EnsembleInfo>(stream, RegistryJson.Options)
                    ?? throw new InvalidDataException($"{ManifestEntry} is empty");
            }

            byte[]? meta = null;
            if (zip.GetEntry(MetaLearnerEntry) is { } entry)
            {
                using var stream = entry.Open();
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                meta = copy.ToArray();
            }

            return new EnsembleArtifact(info, meta);
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException)
        {
            throw new ModuleException(
                ErrorKind.Unprocessable,
                $"{row.Name} {row.Version} is not an ensemble artifact: {ex.Message}",
                inner: ex);
        }
    }
}

/// <summary>
/// One member of a loaded ensemble: the loaded version that answers for it (its own, or its model's previous stable
/// version when its own did not load), and where its inputs sit among the ensemble's.
/// </summary>
internal sealed class EnsembleMemberModel
{
    private readonly Lazy<Task<LoadedModel?>> _fallback;
    private readonly int[] _map;

    public EnsembleMemberModel(
        EnsembleMember member,
        LoadedModel model,
        ColumnBinding[] ensembleBindings,
        string? fallbackReason,
        Func<Task<LoadedModel?>> fallback)
    {
        Member = member;
        Model = model;
        FallbackReason = fallbackReason;
        _fallback = new Lazy<Task<LoadedModel?>>(fallback);
        _map = Map(model, ensembleBindings);
    }

    /// <summary>
    /// Where each input of <paramref name="model"/> sits among the ensemble's; Unprocessable when it takes a column the
    /// ensemble does not have, or has it as another kind (a fallback version may differ from the member it stands in for).
    /// </summary>
    public static int[] Map(LoadedModel model, ColumnBinding[] ensembleBindings)
    {
        var map = new int[model.Bindings.Length];
        for (var j = 0; j < map.Length; j++)
        {
            var column = model.Bindings[j].Column;
            map[j] = Array.FindIndex(ensembleBindings, b => b.Column.Name == column.Name && b.Column.Kind == column.Kind);
            if (map[j] < 0)
            {
                throw new ModuleException(
                    ErrorKind.Unprocessable,
                    $"{model.Name} {model.Version} takes the {column.Kind} column '{column.Name}', which the ensemble does not have.");
            }
        }

        return map;
    }

    public EnsembleMember Member { get; }

    /// <summary>The version answering for the member: <see cref="EnsembleMember.Version"/> unless it fell back at load.</summary>
    public LoadedModel Model { get; }

    /// <summary>Why the member's own version did not load, when <see cref="Model"/> is its fallback.</summary>
    public string? FallbackReason { get; }

    /// <summary>Copies the member's columns out of an ensemble input into <paramref name="into"/>.</summary>
    public void Project(NormalizedInput input, NormalizedInput into)
    {
        for (var j = 0; j < _map.Length; j++)
        {
            into.Floats[j] = input.Floats[_map[j]];
            into.Texts[j] = input.Texts[_map[j]];
        }
    }

    public NormalizedInput Scratch() => new(new float[_map.Length], new string[_map.Length]);

    /// <summary>
    /// The model's previous stable version, loaded once on the first failure of <see cref="Model"/> at run time; null
    /// when there is none. Waits on the load on the scoring thread: that happens once per member, on a failure path.
    /// </summary>
    public LoadedModel? RunTimeFallback() => _fallback.Value.GetAwaiter().GetResult();
}

/// <summary>
/// Scores an ensemble: each member through its own loaded engines (a chunk is one call per member, not one per row),
/// then the combiner: a (weighted) mean of the members' values or class probabilities, or the stacked meta-learner
/// over them. A member that throws is answered by its model's previous stable version, and its output says so.
/// </summary>
internal sealed class EnsembleBackend : ScoringBackend
{
    private readonly EnsembleMemberModel[] _members;
    private readonly double[] _weights;
    private readonly LoadedModel? _meta;
    private readonly ObjectPool<Worker> _pool;

    public EnsembleBackend(ModelTask task, IReadOnlyList<string> classes, EnsembleMemberModel[] members, LoadedModel? meta)
    {
        Task = task;
        Classes = classes;
        _members = members;
        _meta = meta;
        var total = members.Sum(m => m.Member.Weight);
        _weights = [.. members.Select(m => m.Member.Weight / total)];
        _pool = new DefaultObjectPool<Worker>(new WorkerPolicy(this), Environment.ProcessorCount * 2);
    }

    public ModelTask Task { get; }

    /// <summary>The classes of a classifier's members, ordinal order; empty for regression.</summary>
    public IReadOnlyList<string> Classes { get; }

    public override bool ScoresChunks => true;

    /// <summary>How many meta-features one member gives: 1 (a value or the probability of true) or one per class.</summary>
    public static int OutputWidth(ModelTask task, int classes) => task == ModelTask.MulticlassClassification ? classes : 1;

    /// <summary>The meta-feature names, in the order a member's outputs are laid out: <c>m0</c>, or <c>m0.class</c>.</summary>
    public static IReadOnlyList<string> MetaFeatures(ModelTask task, int members, IReadOnlyList<string> classes) =>
        [
            .. Enumerable.Range(0, members).SelectMany(m => task == ModelTask.MulticlassClassification
                ? classes.Select(c => $"m{m}.{c}")
                : [$"m{m}"])
        ];

    /// <summary>The stacked meta-learner as a version row: one numeric column per meta-feature.</summary>
    public static ModelVersionRow MetaRow(string name, string version, ModelTask task, IReadOnlyList<string> features) => new()
    {
        Name = name,
        Version = version,
        Task = task.ToString(),
        SchemaJson = JsonSerializer.Serialize(features.Select(f => new ModelColumn(f, ColumnKind.Numeric)), RegistryJson.Options),
        Framework = FrameworkText.Mlnet,
    };

    /// <summary>A member's prediction as its meta-features, written at <paramref name="offset"/>.</summary>
    public static void Outputs(ModelTask task, IReadOnlyList<string> classes, in Prediction prediction, float[] into, int offset)
    {
        switch (task)
        {
            case ModelTask.Regression:
                into[offset] = (float)(prediction.Value ?? double.NaN);
                break;
            case ModelTask.BinaryClassification:
                into[offset] = (float)(prediction.Probabilities is { } p && p.TryGetValue("true", out var t) ? t : double.NaN);
                break;
            default:
                for (var k = 0; k < classes.Count; k++)
                {
                    into[offset + k] = (float)(prediction.Probabilities is { } all && all.TryGetValue(classes[k], out var v) ? v : 0);
                }

                break;
        }
    }

    /// <summary>A worker holds scratch arrays only: the members' engines are pooled by the members themselves.</summary>
    public override ScoringWorker Rent() => _pool.Get();

    public override void Return(ScoringWorker worker) => _pool.Return((Worker)worker);

    private Prediction Combine(Prediction[] members, float[] outputs, string[] texts)
    {
        var width = OutputWidth(Task, Classes.Count);
        for (var m = 0; m < members.Length; m++)
        {
            Outputs(Task, Classes, members[m], outputs, m * width);
        }

        var answers = new MemberPrediction[members.Length];
        for (var m = 0; m < members.Length; m++)
        {
            answers[m] = members[m].Members![0];
        }

        if (_meta is not null)
        {
            var stacked = _meta.Predict(outputs, texts);
            return stacked with { Members = answers };
        }

        switch (Task)
        {
            case ModelTask.Regression:
                {
                    var value = 0.0;
                    for (var m = 0; m < members.Length; m++)
                    {
                        value += _weights[m] * outputs[m];
                    }

                    return new Prediction(null, value, value, null, null, answers);
                }

            case ModelTask.BinaryClassification:
                {
                    var probability = 0.0;
                    for (var m = 0; m < members.Length; m++)
                    {
                        probability += _weights[m] * outputs[m];
                    }

                    return new Prediction(
                        probability >= 0.5 ? "true" : "false",
                        null,
                        probability,
                        null,
                        new BinaryProbabilities((float)probability),
                        answers);
                }

            default:
                {
                    var byClass = new Dictionary<string, double>(Classes.Count, StringComparer.Ordinal);
                    var best = 0;
                    var averaged = new double[Classes.Count];
                    for (var k = 0; k < Classes.Count; k++)
                    {
                        for (var m = 0; m < members.Length; m++)
                        {
                            averaged[k] += _weights[m] * outputs[(m * width) + k];
                        }

                        byClass[Classes[k]] = averaged[k];
                        best = averaged[k] > averaged[best] ? k : best;
                    }

                    return new Prediction(Classes[best], null, averaged[best], byClass, byClass, answers);
                }
        }
    }

    private static MemberPrediction Answer(EnsembleMemberModel member, LoadedModel answered, in Prediction p, string? reason) => new(
        answered.Name,
        answered.Version,
        member.Member.Weight,
        p.Label,
        p.Value,
        p.Score,
        p.Probabilities,
        reason is null ? null : member.Member.Version,
        reason);

    private sealed class Worker(EnsembleBackend ensemble) : ScoringWorker
    {
        private readonly NormalizedInput[] _one = [.. ensemble._members.Select(m => m.Scratch())];
        private readonly float[] _outputs = new float[ensemble._members.Length * OutputWidth(ensemble.Task, ensemble.Classes.Count)];
        private readonly string[] _texts = new string[ensemble._members.Length * OutputWidth(ensemble.Task, ensemble.Classes.Count)];
        private readonly NormalizedInput[][] _chunk = [.. ensemble._members.Select(_ => Array.Empty<NormalizedInput>())];
        private readonly Prediction[][] _chunkOut = [.. ensemble._members.Select(_ => Array.Empty<Prediction>())];

        public override Prediction Predict(float[] floats, string[] texts)
        {
            var input = new NormalizedInput(floats, texts);
            var members = new Prediction[ensemble._members.Length];
            for (var m = 0; m < members.Length; m++)
            {
                var member = ensemble._members[m];
                member.Project(input, _one[m]);
                members[m] = ScoreOne(member, _one[m]);
            }

            return ensemble.Combine(members, _outputs, _texts);
        }

        public override CompactPrediction PredictCompact(float[] floats, string[] texts)
        {
            var full = Predict(floats, texts);
            return new CompactPrediction(full.Label, full.Value, full.Score);
        }

        public override void PredictChunk(ReadOnlySpan<NormalizedInput> rows, Span<Prediction> into)
        {
            var count = rows.Length;
            for (var m = 0; m < ensemble._members.Length; m++)
            {
                var member = ensemble._members[m];
                Ensure(m, member, count);
                for (var i = 0; i < count; i++)
                {
                    member.Project(rows[i], _chunk[m][i]);
                }

                ScoreChunk(member, _chunk[m].AsSpan(0, count), _chunkOut[m].AsSpan(0, count));
            }

            var row = new Prediction[ensemble._members.Length];
            for (var i = 0; i < count; i++)
            {
                for (var m = 0; m < row.Length; m++)
                {
                    row[m] = _chunkOut[m][i];
                }

                into[i] = ensemble.Combine(row, _outputs, _texts);
            }
        }

        public override void PredictChunkCompact(ReadOnlySpan<NormalizedInput> rows, Span<CompactPrediction> into)
        {
            var full = new Prediction[rows.Length];
            PredictChunk(rows, full);
            for (var i = 0; i < full.Length; i++)
            {
                into[i] = new CompactPrediction(full[i].Label, full[i].Value, full[i].Score);
            }
        }

        private static Prediction ScoreOne(EnsembleMemberModel member, NormalizedInput input)
        {
            try
            {
                var p = member.Model.Predict(input.Floats, input.Texts);
                return p with { Members = [Answer(member, member.Model, p, member.FallbackReason)] };
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                var fallback = FallbackFor(member, ex);
                var p = fallback.Predict(input.Floats, input.Texts);
                return p with { Members = [Answer(member, fallback, p, ex.Message)] };
            }
        }

        private static void ScoreChunk(EnsembleMemberModel member, ReadOnlySpan<NormalizedInput> rows, Span<Prediction> into)
        {
            var answered = member.Model;
            var reason = member.FallbackReason;
            try
            {
                using var lease = answered.Lease();
                lease.PredictChunk(rows, into);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                answered = FallbackFor(member, ex);
                reason = ex.Message;
                using var lease = answered.Lease();
                lease.PredictChunk(rows, into);
            }

            for (var i = 0; i < into.Length; i++)
            {
                into[i] = into[i] with { Members = [Answer(member, answered, into[i], reason)] };
            }
        }

        private static LoadedModel FallbackFor(EnsembleMemberModel member, Exception failure) =>
            member.RunTimeFallback() ?? throw new ModuleException(
                ErrorKind.Unavailable,
                $"Member {member.Member.Model} {member.Member.Version} failed ({failure.Message}) and its model has no previous "
                + "stable version.",
                inner: failure);

        private void Ensure(int m, EnsembleMemberModel member, int count)
        {
            if (_chunk[m].Length < count)
            {
                _chunk[m] = [.. Enumerable.Range(0, count).Select(_ => member.Scratch())];
                _chunkOut[m] = new Prediction[count];
            }
        }
    }

    private sealed class WorkerPolicy(EnsembleBackend ensemble) : PooledObjectPolicy<Worker>
    {
        public override Worker Create() => new(ensemble);

        public override bool Return(Worker obj) => true;
    }
}
