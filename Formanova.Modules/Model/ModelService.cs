using System.Diagnostics;
using Formanova.Modules.Model.Experiments;
using Formanova.Modules.Model.Inference;
using Formanova.Modules.Model.Onnx;
using Formanova.Modules.Model.Preloading;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Caching;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model;

/// <summary>
/// The module's one entry point: training, the registry and inference, behind <see cref="IModelModule"/>. Experiment
/// routing of the predict paths is in ModelService.Experiments.cs.
/// </summary>
internal sealed partial class ModelService(
    ModelTrainer trainer,
    CandidateEvaluator candidates,
    ModelRegistry registry,
    ModelRuntime runtime,
    ITwoLevelCache cache,
    ModelMetrics metrics,
    IOptions<ModelOptions> options,
    ILogger<ModelService> logger,
    OnnxExporter exporter,
    ModelAccessLog accessLog,
    ModelPreloader preloader,
    IPredictionObserver observer,
    EnsemblePlanner ensembles,
    EnsembleTrainer ensembleTrainer,
    ExperimentRouter router,
    ShadowQueue shadows,
    ExperimentStore experiments,
    IPredictionInputObserver inputObserver) : IModelModule
{
    /// <summary>The cache area of predictions: the <c>area</c> label of the cache metrics.</summary>
    internal const string CacheArea = "model";

    // Boxed once: a bool tag would otherwise allocate a box on every prediction.
    private static readonly object BoxedTrue = true;
    private static readonly object BoxedFalse = false;

    private readonly ModelOptions.InferenceOptions _inference = options.Value.Inference;
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<ModelVersionRow, ModelVersionInfo> _resolvedInfo = [];

    public async Task<TrainingResult> TrainAsync(
        TrainModelRequest request,
        IAsyncEnumerable<object?[]> rows,
        IAsyncEnumerable<object?[]>? testRows = null,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        // Checked before training too, so a duplicate fails in milliseconds rather than after the fit.
        var (name, version) = await NewVersionAsync(request.Name, request.Version, cancellationToken);

        if (request.Contract is { } contract)
        {
            // Compiled once before the fit, so a contract that cannot score fails the run rather than every prediction.
            var schema = ModelSchema.Validate(request.Columns, request.Task, requireLabel: true, int.MaxValue);
            CompiledContract.Create(
                LoadedModel.Bind(ModelSchema.Validate([.. schema.Features], request.Task, requireLabel: false, int.MaxValue)),
                contract);
        }

        TrainedModel trained;
        NewVersion registered;
        var lineage = request.Lineage ?? new ModelLineage();
        if (request.Ensemble is { } spec)
        {
            var plan = await ensembles.PlanAsync(name, version, spec, request.Task, training: true, cancellationToken);
            var (ensemble, info, columns) = await ensembleTrainer.TrainAsync(request, plan, rows, testRows, progress, cancellationToken);
            trained = ensemble;
            registered = new NewVersion(name, version, request.Task, trained.Trainer, columns, Finite(trained.Metrics), Tags(request.Tags),
                lineage, request.Notes, request.Seed, null, trained.Report, ModelFramework.Ensemble, Ensemble: info);
        }
        else
        {
            trained = await trainer.TrainAsync(request, rows, testRows, progress, cancellationToken);
            registered = new NewVersion(
                name,
                version,
                request.Task,
                trained.Trainer,
                request.Columns,
                trained.Metrics,
                TrainingTags(request),
                lineage,
                request.Notes,
                request.Seed,
                request.Contract,
                trained.Report);
        }

        metrics.TrainingDuration.Record(trained.Seconds, new KeyValuePair<string, object?>("trainer", trained.Trainer));
        var row = await registry.RegisterAsync(registered, trained.Zip, cancellationToken);
        if (request.Activate)
        {
            await preloader.BeforeSwitchAsync(row, "active", cancellationToken);
            row = await registry.ActivateAsync(name, version, cancellationToken);
            runtime.Forget(name);
        }

        logger.LogInformation(
            "Trained {Model} {Version} with {Trainer} on {Rows} rows in {Seconds:F1} s: {Metrics}",
            name,
            version,
            trained.Trainer,
            trained.TrainRows,
            trained.Seconds,
            trained.Metrics);
        return new TrainingResult(
            await InfoAsync(row, cancellationToken),
            trained.Metrics,
            trained.TrainRows,
            trained.TestRows,
            trained.SkippedRows,
            trained.Seconds,
            trained.Report);
    }

    public AutoTrainingPlan PlanAutoTraining(ModelTask task, string? selectionMetric = null) =>
        AutoTrainingGrid.Plan(task, selectionMetric);

    public Task<CandidateEvaluation> EvaluateCandidateAsync(
        EvaluateCandidateRequest request,
        IAsyncEnumerable<object?[]> rows,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return candidates.EvaluateAsync(request, rows, progress, cancellationToken);
    }

    public async Task<ModelVersionInfo> RegisterAsync(
        RegisterModelRequest request,
        Stream modelZip,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var name = ModelNames.Name(request.Name);
        var version = ModelNames.Version(request.Version);
        if (!Enum.IsDefined(request.Task))
        {
            throw ModuleException.Invalid("task", "Task must be binaryClassification, multiclassClassification or regression.");
        }

        ModelSchema.Validate(request.Columns, request.Task, requireLabel: false, options.Value.Training.MaxColumns);
        var zip = await ReadAllAsync(modelZip, cancellationToken);
        return await RegisterUploadedAsync(
            Uploaded(
                name,
                version,
                request.Task,
                request.Columns,
                request.Trainer,
                request.Metrics,
                request.Tags,
                request.Lineage,
                request.Notes),
            zip,
            cancellationToken);
    }

    public async Task<ModelVersionInfo> RegisterOnnxAsync(
        RegisterOnnxRequest request,
        Stream model,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var name = ModelNames.Name(request.Name);
        var version = ModelNames.Version(request.Version);
        if (request.Task is { } task && !Enum.IsDefined(task))
        {
            throw ModuleException.Invalid("task", "Task must be binaryClassification, multiclassClassification or regression.");
        }

        var bytes = await ReadAllAsync(model, cancellationToken);
        var proto = OnnxGraph.Parse(bytes);
        ResolvedOnnx resolved;
        using (var session = OnnxSessions.Create(bytes, options.Value.Onnx))
        {
            resolved = OnnxSignatures.Resolve(request, OnnxGraph.Read(proto, session), options.Value.Onnx.MaxColumns);
        }

        var uploaded = Uploaded(
            name,
            version,
            resolved.Task,
            resolved.Columns,
            request.Trainer,
            request.Metrics,
            request.Tags,
            request.Lineage,
            request.Notes);
        return await RegisterUploadedAsync(
            uploaded with
            {
                Contract = resolved.Contract,
                Framework = ModelFramework.Onnx,
                Opset = OnnxGraph.OpsetOf(proto),
                Signature = resolved.Signature,
            },
            bytes,
            cancellationToken);
    }

    public async Task<ModelVersionInfo> RegisterEnsembleAsync(
        RegisterEnsembleRequest request,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (name, version) = await NewVersionAsync(request.Name, request.Version, cancellationToken);
        var plan = await ensembles.PlanAsync(name, version, request.Ensemble, null, training: false, cancellationToken);
        var combiner = System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(plan.Info.Combiner.ToString());
        var row = await registry.RegisterAsync(
            new NewVersion(
                name,
                version,
                plan.Task,
                $"ensemble:{combiner}",
                plan.Columns,
                new Dictionary<string, double>(),
                Tags(request.Tags),
                new ModelLineage(),
                request.Notes,
                null,
                Framework: ModelFramework.Ensemble,
                Ensemble: plan.Info),
            new EnsembleArtifact(plan.Info, null).ToBytes(),
            cancellationToken);
        logger.LogInformation(
            "Registered ensemble {Model} {Version} ({Combiner} of {Members})",
            name,
            version,
            combiner,
            string.Join(", ", plan.Info.Members.Select(m => $"{m.Model} {m.Version}")));
        return await InfoAsync(row, cancellationToken);
    }

    public async Task<IReadOnlyList<ModelSummary>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        var rows = await registry.ListAsync(null, cancellationToken);
        var aliases = await registry.ListAliasesAsync(null, cancellationToken);
        return [
            .. rows.GroupBy(r => r.Name).Select(g => new ModelSummary(
            g.Key,
            g.First().ModelTask,
            g.FirstOrDefault(r => r.VersionStatus == ModelVersionStatus.Active)?.Version,
            g.Count(),
            g.First().Version,
            aliases.Where(a => a.Name == g.Key).ToDictionary(a => a.Alias, a => a.Version)))
        ];
    }

    public async Task<ModelDetails> GetModelAsync(string name, CancellationToken cancellationToken = default)
    {
        name = ModelNames.Name(name);
        var rows = await registry.ListAsync(name, cancellationToken);
        if (rows.Count == 0)
        {
            throw ModuleException.NotFound("Model", name);
        }

        var aliases = await registry.ListAliasesAsync(name, cancellationToken);
        return new ModelDetails(
            name,
            rows.FirstOrDefault(r => r.VersionStatus == ModelVersionStatus.Active)?.Version,
            aliases.ToDictionary(a => a.Alias, a => a.Version),
            [.. rows.Select(r => r.ToInfo([.. aliases.Where(a => a.Version == r.Version).Select(a => a.Alias)]))]);
    }

    public async Task<ModelVersionInfo> GetVersionAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        var row = await registry.GetAsync(ModelNames.Name(name), ModelNames.Version(version), cancellationToken);
        return await InfoAsync(row, cancellationToken) with
        {
            Report = await registry.FindReportAsync(row.Name, row.Version, cancellationToken),
        };
    }

    public async Task<ModelVersionInfo> ResolveVersionAsync(
        string name,
        string? version = null,
        string? alias = null,
        CancellationToken cancellationToken = default)
    {
        var (n, v, a) = Target(name, version, alias);
        // The runtime hands out the same row object while it trusts it, so its parsed schema is built once per refresh.
        return _resolvedInfo.GetValue(await runtime.ResolveAsync(n, v, a, cancellationToken), row => row.ToInfo([]));
    }

    public async Task<ModelVersionInfo> ActivateAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        name = ModelNames.Name(name);
        version = ModelNames.Version(version);
        await preloader.BeforeSwitchAsync(await registry.GetAsync(name, version, cancellationToken), "active", cancellationToken);
        var row = await registry.ActivateAsync(name, version, cancellationToken);
        runtime.Forget(row.Name);
        return await InfoAsync(row, cancellationToken);
    }

    public async Task SetAliasAsync(string name, string alias, string version, CancellationToken cancellationToken = default)
    {
        name = ModelNames.Name(name);
        alias = ModelNames.Alias(alias);
        version = ModelNames.Version(version);
        await preloader.BeforeSwitchAsync(await registry.GetAsync(name, version, cancellationToken), alias, cancellationToken);
        await registry.SetAliasAsync(name, alias, version, cancellationToken);
        runtime.Forget(name);
    }

    public async Task<ModelVersionInfo> ArchiveAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        await RefuseIfAnArmAsync(ModelNames.Name(name), ModelNames.Version(version), "archived", cancellationToken);
        var row = await registry.ArchiveAsync(ModelNames.Name(name), ModelNames.Version(version), cancellationToken);
        runtime.Forget(row.Name);
        runtime.Unload(row.Name, row.Version);
        return await InfoAsync(row, cancellationToken);
    }

    public async Task DeleteVersionAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        name = ModelNames.Name(name);
        version = ModelNames.Version(version);
        await RefuseIfAnArmAsync(name, version, "deleted", cancellationToken);
        await registry.DeleteAsync(name, version, cancellationToken);
        runtime.Forget(name);
        runtime.Unload(name, version);
    }

    /// <summary>
    /// A live experiment routes requests to each arm's pinned version: without it they would fail instead of falling
    /// back. Marking an arm failed stays allowed (its fallback is what the experiment's guards watch).
    /// </summary>
    private async Task RefuseIfAnArmAsync(string name, string version, string action, CancellationToken cancellationToken)
    {
        if (await experiments.FindLiveAsync(name, cancellationToken) is { } live
            && live.Arms.FirstOrDefault(a => a.Version == version) is { } arm)
        {
            throw new ModuleException(
                ErrorKind.Conflict,
                $"Version {version} of {name} cannot be {action}: it is arm '{arm.Name}' of experiment '{live.Name}', which is "
                + $"{live.Status}. Stop the experiment first.");
        }
    }

    public async Task<FallbackResult> MarkFailedAsync(
        string name,
        string? version,
        string reason,
        CancellationToken cancellationToken = default)
    {
        name = ModelNames.Name(name);
        var (failed, active) = await registry.MarkFailedAsync(
            name,
            version is null ? null : ModelNames.Version(version),
            string.IsNullOrWhiteSpace(reason) ? "marked failed" : reason,
            cancellationToken);
        runtime.Forget(name);
        runtime.Unload(name, failed.Version);
        return new FallbackResult(
            name,
            failed.Version,
            active?.Version ?? (await registry.FindActiveAsync(name, cancellationToken))?.Version);
    }

    public async Task<PredictionResult> PredictAsync(PredictRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var started = Stopwatch.GetTimestamp();
        var (name, version, alias) = Target(request.Model, request.Version, request.Alias);
        var entityId = EntityKeys.Check(request.EntityId, "entityId");
        var experiment = await ExperimentOfAsync(name, version, alias, cancellationToken);
        var arm = experiment is null ? null : experiment.Mode == ExperimentMode.Shadow ? experiment.Control : experiment.Route(entityId);
        var route = arm is null ? null : new PredictionRoute(experiment!.Name, arm.Name);
        // A routed request resolves its arm's pinned version but stays unpinned for the fallback.
        var row = await runtime.ResolveAsync(name, arm?.Version ?? version, alias, cancellationToken);
        var inFlight = new KeyValuePair<string, object?>("model", name);
        var id = NewPredictionId();
        metrics.InFlight.Add(1, inFlight);
        PredictionResult result;
        try
        {
            result = await PredictOneAsync(row, request, id, started, cancellationToken);
        }
        catch (Exception ex) when (CanFallBack(ex, version, alias))
        {
            ModelVersionRow previous;
            try
            {
                previous = await FallbackTargetAsync(row, ex, cancellationToken);
            }
            catch (ModuleException failure) when (IsModelFailure(failure))
            {
                Failed(id, row, failure, started, entityId, route);
                throw;
            }

            result = await PredictOneAsync(previous, request, id, started, cancellationToken) with
            {
                FallbackFrom = row.Version,
                FallbackReason = ex.Message,
            };
        }
        catch (ModuleException ex) when (IsModelFailure(ex))
        {
            Failed(id, row, ex, started, entityId, route);
            throw;
        }
        catch (Exception ex) when (ex is not ModuleException and not OperationCanceledException)
        {
            metrics.Inference(row.Name, row.Version, "failure", Stopwatch.GetElapsedTime(started));
            var failure = new ModuleException(ErrorKind.Unavailable, $"Model {row.Name} {row.Version} failed: {ex.Message}", inner: ex);
            Failed(id, row, failure, started, entityId, route);
            throw failure;
        }
        finally
        {
            metrics.InFlight.Add(-1, inFlight);
        }

        if (route is not null)
        {
            result = Routed(result, route);
        }

        observer.Predicted(result, row.ModelTask, entityId);
        metrics.Inference(
            result.Model,
            result.Version,
            result.FallbackFrom is null ? "success" : "fallback",
            Stopwatch.GetElapsedTime(started));
        if (experiment is { Mode: ExperimentMode.Shadow })
        {
            // The caller gets exactly the control's answer, as with no experiment; only the log knows the arm.
            Shadow(experiment, request, result.PredictionId!, entityId);
            result = result with { Experiment = null, Arm = null };
        }

        return result.Members is null || request.IncludeMembers ? result : result with { Members = null };
    }

    public async Task<BatchPredictionResult> PredictBatchAsync(PredictBatchRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        CheckEntityIds(request);
        var experiment = string.IsNullOrWhiteSpace(request.Version) && string.IsNullOrWhiteSpace(request.Alias)
            ? await ExperimentOfAsync(ModelNames.Name(request.Model, "model"), null, null, cancellationToken)
            : null;
        if (experiment is { Mode: not ExperimentMode.Shadow } && request.Rows is { Count: > 0 })
        {
            return await PredictSplitBatchAsync(request, experiment, cancellationToken);
        }

        var served = await ServeRowsAsync(request, experiment?.Control.Version, cancellationToken);
        var results = served.Results;
        var route = experiment is null ? null : new PredictionRoute(experiment.Name, experiment.Control.Name);
        for (var i = 0; i < results.Count; i++)
        {
            observer.Predicted(route is null ? results[i] : Routed(results[i], route), served.Task, request.EntityIds?[i]);
        }

        if (experiment is not null)
        {
            ShadowBatch(experiment, request, results);
        }

        return new BatchPredictionResult(served.Name, results, results.Count(r => r.Cached), served.LatencyMs, served.Ignored);
    }

    public async Task<RowPredictions> PredictRowsAsync(PredictRowsRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Columns is null)
        {
            throw ModuleException.Invalid("columns", "The column names are required (null for a position the model does not take).");
        }

        if (request.MaxParallelism is < 1)
        {
            throw ModuleException.Invalid("maxParallelism", "maxParallelism must be at least 1 (or null for every core).");
        }

        var parallelism = request.MaxParallelism ?? Environment.ProcessorCount;
        var served = await ServeBatchAsync(request.Model, request.Version, request.Alias, request.Rows?.Count ?? 0, async row =>
        {
            var rows = PositionalRows.Create(row.Contract, request.Columns, request.Rows!, request.Strict);
            var model = await LoadForBatchAsync(row, rows, cancellationToken);
            var sink = new CompactSink(new string?[rows.Count], new double?[rows.Count], new double?[rows.Count]);
            PredictEach(row, model, rows, sink, parallelism, cancellationToken);
            return (row, sink, rows.Ignored);
        }, cancellationToken);
        var (answered, predictions, ignored) = served.Value;
        return new RowPredictions(
            served.Name,
            answered.Version,
            answered.ModelTask,
            predictions.Labels,
            predictions.Values,
            predictions.Scores,
            served.LatencyMs,
            served.FallbackFrom,
            served.FallbackReason,
            ignored);
    }

    public async Task<ModelLoadCheck> WarmAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        var row = await registry.GetAsync(ModelNames.Name(name), ModelNames.Version(version), cancellationToken);
        return await CheckAsync(row, () => runtime.GetAsync(row, cancellationToken).AsTask());
    }

    public async Task<ModelLoadCheck> CheckLoadAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        var row = await registry.GetAsync(ModelNames.Name(name), ModelNames.Version(version), cancellationToken);
        return await CheckAsync(row, () => runtime.LoadDetachedAsync(row, cancellationToken));
    }

    public async Task EvictCachedPredictionsAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        name = ModelNames.Name(name);
        await registry.BumpCacheGenerationAsync(name, ModelNames.Version(version), cancellationToken);
        runtime.Forget(name);
    }

    public async Task<Stream> OpenArtifactAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        var row = await registry.GetAsync(ModelNames.Name(name), ModelNames.Version(version), cancellationToken);
        return File.OpenRead(await registry.EnsureLocalAsync(row, cancellationToken));
    }

    public async Task<Stream> ExportOnnxAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        var row = await registry.GetAsync(ModelNames.Name(name), ModelNames.Version(version), cancellationToken);
        return row.ModelFramework switch
        {
            ModelFramework.Onnx => File.OpenRead(await registry.EnsureLocalAsync(row, cancellationToken)),
            ModelFramework.Ensemble => throw new ModuleException(
                ErrorKind.Conflict,
                $"{row.Name} {row.Version} is an ensemble: its members are scored by their own runtimes and combined by "
                + "Formanova, so there is no single graph to export. Export each member instead."),
            _ => await exporter.OpenAsync(row, cancellationToken),
        };
    }

    private async Task<PredictionResult> PredictOneAsync(
        ModelVersionRow row,
        PredictRequest request,
        string id,
        long started,
        CancellationToken cancellationToken)
    {
        var layout = ModelRuntime.Layout(row);
        var input = new NormalizedInput(new float[layout.Length], new string[layout.Length]);
        var errors = new Dictionary<string, string[]>();
        List<string>? ignoredKeys = null;
        if (!row.Contract.TryConvert(request.Inputs, -1, request.Strict, errors, input, ref ignoredKeys))
        {
            throw new ModuleException(ErrorKind.Invalid, "The inputs do not match the model's inputs.", errors);
        }

        IReadOnlyList<string> ignored = ignoredKeys ?? [];
        var access = accessLog.For(row);
        access.Hit();
        string? key = null;
        if (request.UseCache)
        {
            key = InputNormalizer.CacheKey(row.Name, row.Version, row.CacheGeneration, layout, input);
            access.OfferKey(key);
            var hit = await cache.GetAsync<PredictionResult>(CacheArea, key, cancellationToken);
            metrics.CacheLookup(hit.Found);
            if (hit.Found && hit.Value is not null)
            {
                Count(row, cached: true, 1);
                var cached = hit.Value with
                {
                    Cached = true,
                    LatencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                    IgnoredColumns = ignored,
                    PredictionId = id,
                };
                ObserveInputs(row, cached, input);
                return cached;
            }
        }

        var model = await runtime.GetAsync(row, cancellationToken);
        // The stored copy keeps this latency too; a hit replaces it with its own.
        var prediction = model.Predict(input.Floats, input.Texts);
        var result = Result(row, prediction, id, Stopwatch.GetElapsedTime(started).TotalMilliseconds, ignored);
        if (key is not null)
        {
            await cache.SetAsync(CacheArea, key, result, cancellationToken);
        }

        Count(row, cached: false, 1);
        ObserveInputs(row, result, input);
        return result;
    }

    private void ObserveInputs(ModelVersionRow row, PredictionResult result, NormalizedInput input)
    {
        if (inputObserver.Watches(row.Name))
        {
            inputObserver.Observed(result, row.LayoutColumns, input.Floats, input.Texts);
        }
    }

    /// <summary>
    /// What both batch entry points share: the size limits, resolving the version, the in-flight gauge, the
    /// fallback to the previous stable version, and the inference metric. <paramref name="predict"/> runs on the
    /// version that answers.
    /// </summary>
    private async Task<ServedBatch<T>> ServeBatchAsync<T>(
        string model,
        string? version,
        string? alias,
        int count,
        Func<ModelVersionRow, Task<T>> predict,
        CancellationToken cancellationToken,
        string? routed = null)
    {
        var started = Stopwatch.GetTimestamp();
        CheckBatchSize(count);
        var (name, pinned, pinnedAlias) = Target(model, version, alias);
        // An experiment arm's version (routed) is resolved like a pinned one, but the fallback still applies to it.
        var row = await runtime.ResolveAsync(name, pinned ?? routed, pinnedAlias, cancellationToken);
        var inFlight = new KeyValuePair<string, object?>("model", name);
        metrics.InFlight.Add(1, inFlight);
        ServedBatch<T> served;
        try
        {
            accessLog.For(row).Hit();
            served = new ServedBatch<T>(name, await predict(row), null, null, 0);
        }
        catch (Exception ex) when (CanFallBack(ex, pinned, pinnedAlias))
        {
            var previous = await FallbackTargetAsync(row, ex, cancellationToken);
            accessLog.For(previous).Hit();
            served = new ServedBatch<T>(name, await predict(previous), row.Version, ex.Message, 0);
            row = previous;
        }
        catch (Exception ex) when (ex is not ModuleException and not OperationCanceledException)
        {
            metrics.Inference(row.Name, row.Version, "failure", Stopwatch.GetElapsedTime(started));
            throw new ModuleException(ErrorKind.Unavailable, $"Model {row.Name} {row.Version} failed: {ex.Message}", inner: ex);
        }
        finally
        {
            metrics.InFlight.Add(-1, inFlight);
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        metrics.Inference(name, row.Version, served.FallbackFrom is null ? "success" : "fallback", elapsed);
        return served with { LatencyMs = elapsed.TotalMilliseconds };
    }

    private async Task<IReadOnlyList<PredictionResult>> PredictManyAsync(
        ModelVersionRow row,
        BatchRows rows,
        bool useCache,
        CancellationToken cancellationToken)
    {
        var model = await LoadForBatchAsync(row, rows, cancellationToken);
        var results = new PredictionResult[rows.Count];
        if (!useCache)
        {
            PredictEach(row, model, rows, new FullSink(row, results, this), Environment.ProcessorCount, cancellationToken);
            return results;
        }

        var invalid = new BatchErrors();
        var size = _inference.BatchSize;
        var cached = 0;
        var access = accessLog.For(row);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken };
        await Parallel.ForAsync(0, (rows.Count + size - 1) / size, parallel, async (chunk, ct) =>
        {
            // The chunk's rows are looked up first; the misses are then scored together, on a worker held only for that.
            var misses = new ChunkScratch(size, row.Layout.Length);
            var keys = new string[size];
            for (var i = chunk * size; i < Math.Min(rows.Count, (chunk + 1) * size); i++)
            {
                var scratch = misses.Rows[misses.Count];
                if (!Ready(rows, i, scratch, invalid))
                {
                    continue;
                }

                var key = InputNormalizer.CacheKey(row.Name, row.Version, row.CacheGeneration, row.Layout, scratch.Input);
                access.OfferKey(key);
                var hit = await cache.GetAsync<PredictionResult>(CacheArea, key, ct);
                metrics.CacheLookup(hit.Found);
                if (hit.Found && hit.Value is not null)
                {
                    results[i] = hit.Value with { Cached = true, LatencyMs = 0, PredictionId = NewPredictionId() };
                    ObserveInputs(row, results[i], scratch.Input);
                    Interlocked.Increment(ref cached);
                    continue;
                }

                keys[misses.Count] = key;
                misses.Add(i);
            }

            if (misses.Count == 0 || invalid.Any)
            {
                return;
            }

            new FullSink(row, results, observer: null).PredictChunk(model, misses);
            for (var k = 0; k < misses.Count; k++)
            {
                ObserveInputs(row, results[misses.Indexes[k]], misses.Inputs[k]);
                await cache.SetAsync(CacheArea, keys[k], results[misses.Indexes[k]], ct);
            }
        });

        invalid.ThrowIfAny();
        Count(row, cached: true, cached);
        Count(row, cached: false, rows.Count - cached);
        return results;
    }

    private async Task<LoadedModel> LoadForBatchAsync(ModelVersionRow row, BatchRows rows, CancellationToken cancellationToken)
    {
        try
        {
            return await runtime.GetAsync(row, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Bad rows are the caller's error whatever the model's state: report them rather than fall back.
            var scratch = new RowScratch(row.Layout.Length);
            var invalid = new BatchErrors();
            for (var i = 0; i < rows.Count && !invalid.Full; i++)
            {
                if (!rows.TryConvert(i, scratch))
                {
                    invalid.Add(i, scratch.Errors);
                }
            }

            invalid.ThrowIfAny();
            throw;
        }
    }

    // Each chunk of BatchSize rows converts, checks and predicts its rows on one rented engine, on up to
    // maxParallelism threads: the checks run in parallel with the predictions instead of as a serial pass first, and a
    // row's converted values live in two per-chunk buffers rather than in two arrays per row held until the batch
    // ends. Errors are still all collected and reported before any result is returned. Nothing awaits here, so plain
    // Parallel.For spares an async state machine per chunk.
    private void PredictEach<TSink>(
        ModelVersionRow row,
        LoadedModel model,
        BatchRows rows,
        TSink sink,
        int maxParallelism,
        CancellationToken cancellationToken)
        where TSink : IRowSink
    {
        var invalid = new BatchErrors();
        var size = _inference.BatchSize;
        var width = row.Layout.Length;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxParallelism, CancellationToken = cancellationToken };
        if (model.ScoresChunks)
        {
            // A backend that scores a chunk as one run (ONNX: one tensor of the chunk's rows) gets the chunk's valid rows
            // at once; each thread keeps its buffers across the chunks it takes.
            Parallel.For(0, (rows.Count + size - 1) / size, parallel, () => new ChunkScratch(size, width), (chunk, _, local) =>
            {
                local.Clear();
                for (var i = chunk * size; i < Math.Min(rows.Count, (chunk + 1) * size); i++)
                {
                    if (Ready(rows, i, local.Rows[local.Count], invalid))
                    {
                        local.Add(i);
                    }
                }

                if (local.Count > 0 && !invalid.Any)
                {
                    sink.PredictChunk(model, local);
                }

                return local;
            }, _ => { });
        }
        else
        {
            Parallel.For(0, (rows.Count + size - 1) / size, parallel, chunk =>
            {
                var scratch = new RowScratch(width);
                using var engine = model.Lease();
                for (var i = chunk * size; i < Math.Min(rows.Count, (chunk + 1) * size); i++)
                {
                    if (Ready(rows, i, scratch, invalid))
                    {
                        sink.Predict(i, engine, scratch.Input);
                    }
                }
            });
        }

        invalid.ThrowIfAny();
        Count(row, cached: false, rows.Count);
    }

    // Converts and checks row i into the chunk's scratch; false when it is invalid or an earlier one was.
    private static bool Ready(BatchRows rows, int i, RowScratch scratch, BatchErrors invalid)
    {
        if (!rows.TryConvert(i, scratch))
        {
            invalid.Add(i, scratch.Errors);
            return false;
        }

        return !invalid.Any;
    }

    private static PredictionResult Result(
        ModelVersionRow row,
        Prediction prediction,
        string id,
        double latencyMs = 0,
        IReadOnlyList<string>? ignored = null) =>
        new(
            row.Name,
            row.Version,
            prediction.Label,
            prediction.Value,
            prediction.Score,
            prediction.Scores,
            prediction.Probabilities,
            false,
            latencyMs,
            IgnoredColumns: ignored,
            PredictionId: id,
            Members: prediction.Members);

    // Time-ordered (UUID v7): the log's rows of one period sit together, and an id tells its own age (docs/feedback.md).
    private static string NewPredictionId() => Guid.CreateVersion7().ToString();

    // The model's own failures count against its version; a caller's bad input or a cancelled call does not.
    private static bool IsModelFailure(ModuleException exception) =>
        exception.Kind is ErrorKind.Unavailable or ErrorKind.Unprocessable;

    private void Failed(string id, ModelVersionRow row, ModuleException failure, long started, string? entityId, PredictionRoute? route) =>
        observer.Failed(
            id,
            row.Name,
            row.Version,
            row.ModelTask,
            failure.Kind == ErrorKind.Unavailable ? "unavailable" : "unprocessable",
            Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            entityId,
            route);

    private void CheckBatchSize(int count)
    {
        if (count == 0)
        {
            throw ModuleException.Invalid("rows", "At least one row is required.");
        }

        if (count > _inference.MaxBatchRows)
        {
            throw new ModuleException(
                ErrorKind.TooLarge,
                $"A batch takes at most {_inference.MaxBatchRows} rows (Model:Inference:MaxBatchRows); {count} were sent.");
        }
    }

    private static void CheckEntityIds(PredictBatchRequest request)
    {
        if (request.EntityIds is not { } ids)
        {
            return;
        }

        if (ids.Count != (request.Rows?.Count ?? 0))
        {
            throw ModuleException.Invalid("entityIds", "entityIds must hold one entity key (or null) per row.");
        }

        for (var i = 0; i < ids.Count; i++)
        {
            EntityKeys.Check(ids[i], $"entityIds[{i}]");
        }
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    private static NewVersion Uploaded(
        string name,
        string version,
        ModelTask task,
        IReadOnlyList<ModelColumn> columns,
        string? trainer,
        IReadOnlyDictionary<string, double>? metrics,
        IReadOnlyDictionary<string, string>? tags,
        ModelLineage? lineage,
        string? notes) =>
        new(
            name,
            version,
            task,
            string.IsNullOrWhiteSpace(trainer) ? "uploaded" : trainer.Trim(),
            columns,
            (metrics ?? new Dictionary<string, double>()).Where(m => double.IsFinite(m.Value)).ToDictionary(),
            Tags(tags),
            lineage ?? new ModelLineage(),
            notes,
            null);

    /// <summary>
    /// Registers an uploaded artifact after loading it, before anything is written: it must answer a probe row for its
    /// schema (and, for ONNX, fit its signature and task), and a contract it carries must compile.
    /// </summary>
    private async Task<ModelVersionInfo> RegisterUploadedAsync(NewVersion version, byte[] artifact, CancellationToken cancellationToken)
    {
        var probeRow = new ModelVersionRow
        {
            Name = version.Name,
            Version = version.Version,
            Task = version.Task.ToString(),
            SchemaJson = System.Text.Json.JsonSerializer.Serialize(version.Columns, RegistryJson.Options),
            Framework = FrameworkText.Of(version.Framework),
            SignatureJson = version.Signature is null
                ? null
                : System.Text.Json.JsonSerializer.Serialize(version.Signature, RegistryJson.Options),
        };
        if (version.Contract is { } contract)
        {
            CompiledContract.Create(probeRow.Layout, contract);
        }

        using (var stream = new MemoryStream(artifact, writable: false))
        {
            LoadedModel.Load(probeRow, stream, 1, options.Value.Onnx);
        }

        var row = await registry.RegisterAsync(version, artifact, cancellationToken);
        return await InfoAsync(row, cancellationToken);
    }

    private bool CanFallBack(Exception exception, string? version, string? alias) =>
        _inference.FallbackEnabled && version is null && alias is null
        && exception is not OperationCanceledException
        && exception is not ModuleException { Kind: ErrorKind.Invalid or ErrorKind.TooLarge };

    private async Task<ModelVersionRow> FallbackTargetAsync(
        ModelVersionRow failed,
        Exception exception,
        CancellationToken cancellationToken)
    {
        var previous = await runtime.PreviousStableAsync(failed.Name, failed.Version, cancellationToken);
        if (previous is null)
        {
            logger.LogError(
                exception,
                "Active model {Model} {Version} failed and there is no previous stable version to fall back to",
                failed.Name,
                failed.Version);
            throw new ModuleException(
                ErrorKind.Unavailable,
                $"Model {failed.Name} {failed.Version} failed ({exception.Message}) and no previous stable version exists.",
                inner: exception);
        }

        logger.LogWarning(
            exception,
            "Active model {Model} {Version} failed; {Previous} serves the request",
            failed.Name,
            failed.Version,
            previous.Version);
        metrics.Fallbacks.Add(1,
            new KeyValuePair<string, object?>("model", failed.Name),
            new KeyValuePair<string, object?>("from", failed.Version),
            new KeyValuePair<string, object?>("to", previous.Version));
        return previous;
    }

    private static async Task<ModelLoadCheck> CheckAsync(ModelVersionRow row, Func<Task<LoadedModel>> load)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await load();
            return new ModelLoadCheck(row.Name, row.Version, true, Stopwatch.GetElapsedTime(started).TotalMilliseconds, null);
        }
        catch (ModuleException ex) when (ex.Kind is ErrorKind.Unprocessable or ErrorKind.Unavailable)
        {
            return new ModelLoadCheck(row.Name, row.Version, false, Stopwatch.GetElapsedTime(started).TotalMilliseconds, ex.Message);
        }
    }

    private void Count(ModelVersionRow row, bool cached, long count)
    {
        if (count > 0)
        {
            metrics.Predictions.Add(count,
                new KeyValuePair<string, object?>("model", row.Name),
                new KeyValuePair<string, object?>("version", row.Version),
                new KeyValuePair<string, object?>("cached", cached ? BoxedTrue : BoxedFalse));
        }
    }

    private static (string Name, string? Version, string? Alias) Target(string model, string? version, string? alias)
    {
        if (!string.IsNullOrWhiteSpace(version) && !string.IsNullOrWhiteSpace(alias))
        {
            throw ModuleException.Invalid("alias", "Give a version or an alias, not both.");
        }

        return (ModelNames.Name(model, "model"),
            string.IsNullOrWhiteSpace(version) ? null : ModelNames.Version(version),
            string.IsNullOrWhiteSpace(alias) ? null : ModelNames.Alias(alias));
    }

    private async Task<ModelVersionInfo> InfoAsync(ModelVersionRow row, CancellationToken cancellationToken)
    {
        var aliases = await registry.ListAliasesAsync(row.Name, cancellationToken);
        return row.ToInfo([.. aliases.Where(a => a.Version == row.Version).Select(a => a.Alias)]);
    }

    /// <summary>The request's tags, plus the hyperparameters and class weighting the version was trained with, if any.</summary>
    private static Dictionary<string, string> TrainingTags(TrainModelRequest request)
    {
        var tags = Tags(request.Tags);
        if (request.Hyperparameters is { Count: > 0 } hyperparameters)
        {
            tags["hyperparameters"] = System.Text.Json.JsonSerializer.Serialize(hyperparameters);
        }

        if (request.ClassWeighting && request.Task != ModelTask.Regression)
        {
            tags["classWeighting"] = "inverseFrequency";
        }

        return tags;
    }

    /// <summary>The normalised name and version, Conflict when the model has that version already.</summary>
    private async Task<(string Name, string Version)> NewVersionAsync(
        string rawName,
        string rawVersion,
        CancellationToken cancellationToken)
    {
        var name = ModelNames.Name(rawName);
        var version = ModelNames.Version(rawVersion);
        return await registry.FindAsync(name, version, cancellationToken) is null
            ? (name, version)
            : throw new ModuleException(ErrorKind.Conflict, $"Model {name} already has version {version}.");
    }

    private static PredictionResult Served<T>(PredictionResult result, ServedBatch<T> served, bool includeMembers) => result with
    {
        FallbackFrom = served.FallbackFrom ?? result.FallbackFrom,
        FallbackReason = served.FallbackReason ?? result.FallbackReason,
        Members = includeMembers ? result.Members : null,
    };

    private static Dictionary<string, double> Finite(IReadOnlyDictionary<string, double> metrics) =>
        metrics.Where(m => double.IsFinite(m.Value)).ToDictionary();

    private static Dictionary<string, string> Tags(IReadOnlyDictionary<string, string>? tags) =>
        tags?.ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal) ?? [];

    private interface IRowSink
    {
        void Predict(int index, LoadedModel.EngineLease engine, NormalizedInput input);

        /// <summary>Scores the rows gathered in <paramref name="chunk"/> in one call of a rented worker.</summary>
        void PredictChunk(LoadedModel model, ChunkScratch chunk);
    }

    private sealed record ServedBatch<T>(string Name, T Value, string? FallbackFrom, string? FallbackReason, double LatencyMs);

    /// <summary>Full results per row; with an <paramref name="observer"/>, each row is also shown to monitoring.</summary>
    private readonly struct FullSink(ModelVersionRow row, PredictionResult[] results, ModelService? observer) : IRowSink
    {
        public void Predict(int index, LoadedModel.EngineLease engine, NormalizedInput input)
        {
            results[index] = Result(row, engine.Predict(input.Floats, input.Texts), NewPredictionId());
            observer?.ObserveInputs(row, results[index], input);
        }

        public void PredictChunk(LoadedModel model, ChunkScratch chunk)
        {
            using (var engine = model.Lease())
            {
                engine.PredictChunk(chunk.Inputs.AsSpan(0, chunk.Count), chunk.Full.AsSpan(0, chunk.Count));
            }

            for (var k = 0; k < chunk.Count; k++)
            {
                results[chunk.Indexes[k]] = Result(row, chunk.Full[k], NewPredictionId());
                observer?.ObserveInputs(row, results[chunk.Indexes[k]], chunk.Inputs[k]);
            }
        }
    }

    private readonly struct CompactSink(string?[] labels, double?[] values, double?[] scores) : IRowSink
    {
        public string?[] Labels => labels;

        public double?[] Values => values;

        public double?[] Scores => scores;

        public void Predict(int index, LoadedModel.EngineLease engine, NormalizedInput input)
        {
            var prediction = engine.PredictCompact(input.Floats, input.Texts);
            labels[index] = prediction.Label;
            values[index] = prediction.Value;
            scores[index] = prediction.Score;
        }

        public void PredictChunk(LoadedModel model, ChunkScratch chunk)
        {
            using (var engine = model.Lease())
            {
                engine.PredictChunkCompact(chunk.Inputs.AsSpan(0, chunk.Count), chunk.Compact.AsSpan(0, chunk.Count));
            }

            for (var k = 0; k < chunk.Count; k++)
            {
                var (label, value, score) = chunk.Compact[k];
                var index = chunk.Indexes[k];
                labels[index] = label;
                values[index] = value;
                scores[index] = score;
            }
        }
    }
}
