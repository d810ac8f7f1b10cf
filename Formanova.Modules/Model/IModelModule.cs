namespace Formanova.Modules.Model;

/// <summary>
/// Everything other modules and workflows may ask of the Model module: training, the versioned registry and
/// inference. Names are normalised (lower case, NFKC) and versions are semantic versions (<c>1.2.0</c>, optional
/// pre-release). Expected failures throw <c>ModuleException</c> (Invalid, NotFound, Conflict, Unprocessable, TooLarge, Unavailable).
/// </summary>
public interface IModelModule
{
    /// <summary>
    /// Trains a version from streamed positional rows (one value per <see cref="TrainModelRequest.Columns"/> entry,
    /// values double, string, bool, DateTimeOffset or null), evaluates it on <paramref name="testRows"/> or on a
    /// seeded split, and registers it atomically (activating it when asked). Reports progress for heartbeats and
    /// honours cancellation, also inside the ML.NET fit.
    /// </summary>
    Task<TrainingResult> TrainAsync(
        TrainModelRequest request,
        IAsyncEnumerable<object?[]> rows,
        IAsyncEnumerable<object?[]>? testRows = null,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// The candidates <c>trainer: "auto"</c> tries for <paramref name="task"/> and the metric it ranks them by
    /// (<paramref name="selectionMetric"/>, or the task's default). An unknown metric is Invalid naming <c>selectionMetric</c>.
    /// </summary>
    AutoTrainingPlan PlanAutoTraining(ModelTask task, string? selectionMetric = null);

    /// <summary>
    /// Fits one candidate on streamed rows (as <see cref="TrainAsync"/> takes them) and returns its metrics on a
    /// validation split carved from the training part of the seeded split, registering nothing. Reports progress
    /// during the fit (for heartbeats) and honours cancellation inside it.
    /// </summary>
    Task<CandidateEvaluation> EvaluateCandidateAsync(
        EvaluateCandidateRequest request,
        IAsyncEnumerable<object?[]> rows,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default);

    /// <summary>Registers an existing ML.NET model zip after verifying that it loads and answers for the given schema.</summary>
    Task<ModelVersionInfo> RegisterAsync(RegisterModelRequest request, Stream modelZip, CancellationToken cancellationToken = default);

    /// <summary>
    /// Registers an ONNX graph after settling its task, columns and signature (given, or read from the graph) and
    /// verifying that it loads, fits them and answers a sample row. Nothing is stored when any check fails.
    /// </summary>
    Task<ModelVersionInfo> RegisterOnnxAsync(RegisterOnnxRequest request, Stream model, CancellationToken cancellationToken = default);

    /// <summary>
    /// Registers an averaging or weighted ensemble of existing versions (docs/model.md, "Ensembles"): members named by
    /// alias or as the active version are pinned to the version they name now. Invalid naming the field
    /// (<c>members[1].version</c>) when a member is missing, failed, of another task or class set, takes a shared column
    /// as another kind, or is the ensemble itself; nothing is stored then. A stacked ensemble is trained instead
    /// (<see cref="TrainModelRequest.Ensemble"/>).
    /// </summary>
    Task<ModelVersionInfo> RegisterEnsembleAsync(RegisterEnsembleRequest request, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<ModelSummary>> ListModelsAsync(CancellationToken cancellationToken = default);

    Task<ModelDetails> GetModelAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>One version, with the training report it was registered with (<see cref="ModelVersionInfo.Report"/>).</summary>
    Task<ModelVersionInfo> GetVersionAsync(string name, string version, CancellationToken cancellationToken = default);

    /// <summary>
    /// Resolves a version (explicit, by alias, or the active one) the way <see cref="PredictAsync"/> does, from the
    /// same short-lived in-memory copy of the registry (<c>Model:Inference:RegistryRefreshSeconds</c>), so per-request
    /// schema checks cost no registry read. <see cref="ModelVersionInfo.Aliases"/> is left empty.
    /// </summary>
    Task<ModelVersionInfo> ResolveVersionAsync(
        string name,
        string? version = null,
        string? alias = null,
        CancellationToken cancellationToken = default);

    /// <summary>Makes <paramref name="version"/> the active one; predictions already running finish on the old version.</summary>
    Task<ModelVersionInfo> ActivateAsync(string name, string version, CancellationToken cancellationToken = default);

    /// <summary>Points an alias (<c>champion</c>, <c>challenger</c> or any valid name) at a version.</summary>
    Task SetAliasAsync(string name, string alias, string version, CancellationToken cancellationToken = default);

    /// <summary>Archives a version that is not active; it stays on disk and can be activated again.</summary>
    Task<ModelVersionInfo> ArchiveAsync(string name, string version, CancellationToken cancellationToken = default);

    /// <summary>Deletes a version (never the active one) with its aliases, files and cached engines.</summary>
    Task DeleteVersionAsync(string name, string version, CancellationToken cancellationToken = default);

    /// <summary>
    /// Marks <paramref name="version"/> (or the active version when null) failed and, if it was active, activates the
    /// previous stable version: the one activated most recently that is neither failed nor archived.
    /// </summary>
    Task<FallbackResult> MarkFailedAsync(string name, string? version, string reason, CancellationToken cancellationToken = default);

    Task<PredictionResult> PredictAsync(PredictRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Predicts rows in chunks of <c>Model:Inference:BatchSize</c>, in parallel on pooled engines; results keep the input order.
    /// </summary>
    Task<BatchPredictionResult> PredictBatchAsync(PredictBatchRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// The batch path for positional rows (a batch job's chunk): the columns are matched to the version's inputs once
    /// per call, each row is converted and checked by the same rules as <see cref="PredictBatchAsync"/> (wrong-typed
    /// values throw Invalid naming <c>rows[i].column</c>; unknown, repeated or missing columns name
    /// <c>columns[j]</c> or <c>columns.name</c>; nothing is predicted when any row is invalid) and predicted on the
    /// pooled engines, and the answers come back as compact lists rather than one result per row. At most
    /// <c>Model:Inference:MaxBatchRows</c> rows per call; falls back to the previous stable version as
    /// <see cref="PredictBatchAsync"/> does.
    /// </summary>
    Task<RowPredictions> PredictRowsAsync(PredictRowsRequest request, CancellationToken cancellationToken = default);

    /// <summary>Loads a version's engines ahead of traffic (e.g. before activating it) and probes them.</summary>
    Task<ModelLoadCheck> WarmAsync(string name, string version, CancellationToken cancellationToken = default);

    /// <summary>Verifies that a version loads and answers, without keeping it warm if it was not already.</summary>
    Task<ModelLoadCheck> CheckLoadAsync(string name, string version, CancellationToken cancellationToken = default);

    /// <summary>Invalidates every cached prediction of a version, in L1 and L2, by moving it to a new cache generation.</summary>
    Task EvictCachedPredictionsAsync(string name, string version, CancellationToken cancellationToken = default);

    /// <summary>Opens the version's <c>model.zip</c> (checksum verified) for download.</summary>
    Task<Stream> OpenArtifactAsync(string name, string version, CancellationToken cancellationToken = default);

    /// <summary>
    /// The version as an ONNX graph: an ONNX version's file as uploaded; an ML.NET version converted by ML.NET's
    /// converter once, with its task, columns, signature and input contract in the graph's metadata, and kept beside
    /// its artifact. Conflict naming the transform and column when the pipeline has a step that does not convert.
    /// </summary>
    Task<Stream> ExportOnnxAsync(string name, string version, CancellationToken cancellationToken = default);
}
