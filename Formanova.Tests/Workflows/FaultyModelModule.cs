using Formanova.Modules.Model;

namespace Formanova.Tests.Workflows;

/// <summary>
/// A test-only IModelModule around the real one: <see cref="Before"/> runs before each call with the operation,
/// the version named (if any) and the call count for that operation, and may throw, block or count.
/// </summary>
internal sealed class FaultyModelModule
{
    private readonly Dictionary<string, int> _calls = [];

    public Func<string, string?, int, CancellationToken, Task>? Before { get; set; }

    public int Calls(string operation)
    {
        lock (_calls)
        {
            return _calls.GetValueOrDefault(operation);
        }
    }

    public IModelModule Wrap(IModelModule inner) => new Wrapper(inner, this);

    /// <summary>How <see cref="Before"/> names a candidate of an automatic search.</summary>
    public static string CandidateKey(TrainingCandidate candidate) =>
        $"{candidate.Trainer} {string.Join(",", candidate.Hyperparameters.OrderBy(h => h.Key).Select(h => $"{h.Key}={h.Value}"))}";

    private async Task HookAsync(string operation, string? version, CancellationToken ct)
    {
        int count;
        lock (_calls)
        {
            count = _calls[operation] = _calls.GetValueOrDefault(operation) + 1;
        }

        if (Before is { } before)
        {
            await before(operation, version, count, ct);
        }
    }

    private sealed class Wrapper(IModelModule inner, FaultyModelModule owner) : IModelModule
    {
        public async Task<TrainingResult> TrainAsync(
            TrainModelRequest request,
            IAsyncEnumerable<object?[]> rows,
            IAsyncEnumerable<object?[]>? testRows = null,
            IProgress<TrainingProgress>? progress = null,
            CancellationToken cancellationToken = default)
        {
            await owner.HookAsync("train", request.Version, cancellationToken);
            return await inner.TrainAsync(request, rows, testRows, progress, cancellationToken);
        }

        public AutoTrainingPlan PlanAutoTraining(ModelTask task, string? selectionMetric = null)
            => inner.PlanAutoTraining(task, selectionMetric);

        /// <summary>The hook sees the candidate as <c>Trainer {hyperparameters}</c> in place of a version.</summary>
        public async Task<CandidateEvaluation> EvaluateCandidateAsync(
            EvaluateCandidateRequest request,
            IAsyncEnumerable<object?[]> rows,
            IProgress<TrainingProgress>? progress = null,
            CancellationToken cancellationToken = default)
        {
            await owner.HookAsync("evaluate", CandidateKey(request.Candidate), cancellationToken);
            return await inner.EvaluateCandidateAsync(request, rows, progress, cancellationToken);
        }

        public Task<ModelVersionInfo> RegisterAsync(
            RegisterModelRequest request,
            Stream modelZip,
            CancellationToken cancellationToken = default) => inner.RegisterAsync(request, modelZip, cancellationToken);

        public Task<ModelVersionInfo> RegisterOnnxAsync(
            RegisterOnnxRequest request,
            Stream model,
            CancellationToken cancellationToken = default) => inner.RegisterOnnxAsync(request, model, cancellationToken);

        public Task<ModelVersionInfo> RegisterEnsembleAsync(RegisterEnsembleRequest request, CancellationToken cancellationToken = default)
            => inner.RegisterEnsembleAsync(request, cancellationToken);

        public Task<IReadOnlyList<ModelSummary>> ListModelsAsync(CancellationToken cancellationToken = default)
            => inner.ListModelsAsync(cancellationToken);

        public Task<ModelDetails> GetModelAsync(string name, CancellationToken cancellationToken = default)
            => inner.GetModelAsync(name, cancellationToken);

        public Task<ModelVersionInfo> GetVersionAsync(string name, string version, CancellationToken cancellationToken = default)
            => inner.GetVersionAsync(name, version, cancellationToken);

        public Task<ModelVersionInfo> ResolveVersionAsync(
            string name,
            string? version = null,
            string? alias = null,
            CancellationToken cancellationToken = default) => inner.ResolveVersionAsync(name, version, alias, cancellationToken);

        public async Task<ModelVersionInfo> ActivateAsync(string name, string version, CancellationToken cancellationToken = default)
        {
            await owner.HookAsync("activate", version, cancellationToken);
            return await inner.ActivateAsync(name, version, cancellationToken);
        }

        public Task SetAliasAsync(string name, string alias, string version, CancellationToken cancellationToken = default)
            => inner.SetAliasAsync(name, alias, version, cancellationToken);

        public Task<ModelVersionInfo> ArchiveAsync(string name, string version, CancellationToken cancellationToken = default)
            => inner.ArchiveAsync(name, version, cancellationToken);

        public Task DeleteVersionAsync(string name, string version, CancellationToken cancellationToken = default)
            => inner.DeleteVersionAsync(name, version, cancellationToken);

        public Task<FallbackResult> MarkFailedAsync(
            string name,
            string? version,
            string reason,
            CancellationToken cancellationToken = default) => inner.MarkFailedAsync(name, version, reason, cancellationToken);

        public async Task<PredictionResult> PredictAsync(PredictRequest request, CancellationToken cancellationToken = default)
        {
            await owner.HookAsync("predict", request.Version, cancellationToken);
            return await inner.PredictAsync(request, cancellationToken);
        }

        public async Task<BatchPredictionResult> PredictBatchAsync(
            PredictBatchRequest request,
            CancellationToken cancellationToken = default)
        {
            await owner.HookAsync("predictBatch", request.Version, cancellationToken);
            return await inner.PredictBatchAsync(request, cancellationToken);
        }

        // The same hook as PredictBatchAsync: tests count and stall "batch predictions" whichever entry point a chunk uses.
        public async Task<RowPredictions> PredictRowsAsync(PredictRowsRequest request, CancellationToken cancellationToken = default)
        {
            await owner.HookAsync("predictBatch", request.Version, cancellationToken);
            return await inner.PredictRowsAsync(request, cancellationToken);
        }

        public async Task<ModelLoadCheck> WarmAsync(string name, string version, CancellationToken cancellationToken = default)
        {
            await owner.HookAsync("warm", version, cancellationToken);
            return await inner.WarmAsync(name, version, cancellationToken);
        }

        public async Task<ModelLoadCheck> CheckLoadAsync(string name, string version, CancellationToken cancellationToken = default)
        {
            await owner.HookAsync("checkLoad", version, cancellationToken);
            return await inner.CheckLoadAsync(name, version, cancellationToken);
        }

        public async Task EvictCachedPredictionsAsync(string name, string version, CancellationToken cancellationToken = default)
        {
            await owner.HookAsync("evict", version, cancellationToken);
            await inner.EvictCachedPredictionsAsync(name, version, cancellationToken);
        }

        public Task<Stream> OpenArtifactAsync(string name, string version, CancellationToken cancellationToken = default)
            => inner.OpenArtifactAsync(name, version, cancellationToken);

        public Task<Stream> ExportOnnxAsync(string name, string version, CancellationToken cancellationToken = default)
            => inner.ExportOnnxAsync(name, version, cancellationToken);
    }
}
