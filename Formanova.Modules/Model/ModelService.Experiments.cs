using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Formanova.Modules.Model.Experiments;
using Formanova.Modules.Model.Inference;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model;

/// <summary>
/// Experiment routing of <see cref="PredictAsync"/> and <see cref="PredictBatchAsync"/> (docs/experiments.md,
/// "Routing"): a request that names neither a version nor an alias, of a model with a running experiment, is served
/// by an arm (split, canary) or by the control with shadow copies scored in the background (shadow).
/// </summary>
internal sealed partial class ModelService
{
    /// <summary>The running experiment that routes a request for <paramref name="name"/>: none when it pins a version or alias.</summary>
    private ValueTask<RoutedExperiment?> ExperimentOfAsync(
        string name,
        string? version,
        string? alias,
        CancellationToken cancellationToken) =>
        version is null && alias is null ? router.FindAsync(name, cancellationToken) : ValueTask.FromResult<RoutedExperiment?>(null);

    private PredictionResult Routed(PredictionResult result, PredictionRoute route)
    {
        metrics.ExperimentPredicted(route.Experiment, route.Arm);
        return result with { Experiment = route.Experiment, Arm = route.Arm };
    }

    /// <summary>Queues a shadow copy of a served request for each candidate its weight (a probability, capped at 1) picks.</summary>
    private void Shadow(RoutedExperiment experiment, PredictRequest request, string servedId, string? entityId)
    {
        foreach (var arm in experiment.Arms)
        {
            if (!arm.Control && arm.Weight > 0 && (arm.Weight >= 1 || Random.Shared.NextDouble() < arm.Weight))
            {
                shadows.TryEnqueue(experiment.Name, ct => ShadowAsync(experiment, arm, request, servedId, entityId, ct));
            }
        }
    }

    private void ShadowBatch(RoutedExperiment experiment, PredictBatchRequest request, IReadOnlyList<PredictionResult> served)
    {
        for (var i = 0; i < served.Count; i++)
        {
            var entityId = request.EntityIds?[i];
            var single = new PredictRequest(request.Model, request.Rows[i], Strict: request.Strict, EntityId: entityId);
            Shadow(experiment, single, served[i].PredictionId!, entityId);
        }
    }

    /// <summary>
    /// Scores one shadow copy on the shadow queue's loop. It never reads or fills the prediction cache, so it cannot
    /// change a served answer, and its latency is the candidate's own scoring time.
    /// </summary>
    private async Task ShadowAsync(
        RoutedExperiment experiment,
        RoutedArm arm,
        PredictRequest request,
        string servedId,
        string? entityId,
        CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var row = await runtime.ResolveAsync(experiment.Model, arm.Version, null, cancellationToken);
        var id = NewPredictionId();
        var route = new PredictionRoute(experiment.Name, arm.Name, servedId);
        PredictionResult result;
        try
        {
            result = await PredictOneAsync(row, request with { UseCache = false }, id, started, cancellationToken);
        }
        catch (ModuleException ex) when (IsModelFailure(ex))
        {
            Failed(id, row, ex, started, entityId, route);
            throw;
        }
        catch (Exception ex) when (ex is not ModuleException and not OperationCanceledException)
        {
            Failed(id, row, new ModuleException(ErrorKind.Unavailable, ex.Message, inner: ex), started, entityId, route);
            throw;
        }

        observer.Predicted(Routed(result, route) with { ServedPredictionId = servedId, Members = null }, row.ModelTask, entityId);
    }

    /// <summary>A batch through one version (pinned, routed, or the active one), its results as the caller sees them.</summary>
    private async Task<ServedRows> ServeRowsAsync(PredictBatchRequest request, string? routed, CancellationToken cancellationToken)
    {
        NamedRows? named = null;
        var task = ModelTask.BinaryClassification;
        var served = await ServeBatchAsync(
            request.Model,
            request.Version,
            request.Alias,
            request.Rows?.Count ?? 0,
            row =>
            {
                named = new NamedRows(row.Contract, request.Rows!, request.Strict);
                task = row.ModelTask;
                return PredictManyAsync(row, named, request.UseCache, cancellationToken);
            },
            cancellationToken,
            routed);
        var keep = served.FallbackFrom is null && (request.IncludeMembers || served.Value is not [{ Members: not null }, ..]);
        var results = keep ? served.Value : served.Value.Select(r => Served(r, served, request.IncludeMembers)).ToList();
        return new ServedRows(served.Name, results, task, served.LatencyMs, named!.Ignored);
    }

    /// <summary>
    /// A batch of a split or canary experiment: each row is routed on its own, the rows of each arm are predicted as one
    /// batch of their own (with its fallback), and the answers come back in the request's order. A refused row is
    /// reported under its index in the request.
    /// </summary>
    private async Task<BatchPredictionResult> PredictSplitBatchAsync(
        PredictBatchRequest request,
        RoutedExperiment experiment,
        CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        CheckBatchSize(request.Rows.Count);
        var byArm = experiment.Arms.ToDictionary(a => a, _ => new List<int>());
        for (var i = 0; i < request.Rows.Count; i++)
        {
            byArm[experiment.Route(request.EntityIds?[i])].Add(i);
        }

        var results = new PredictionResult[request.Rows.Count];
        var ignored = new List<string>();
        var task = ModelTask.BinaryClassification;
        var name = experiment.Model;
        foreach (var (arm, indexes) in byArm.Where(a => a.Value.Count > 0))
        {
            var part = request with
            {
                Rows = [.. indexes.Select(i => request.Rows[i])],
                EntityIds = request.EntityIds is { } ids ? [.. indexes.Select(i => ids[i])] : null,
            };
            ServedRows served;
            try
            {
                served = await ServeRowsAsync(part, arm.Version, cancellationToken);
            }
            catch (ModuleException ex) when (ex.Errors.Count > 0)
            {
                throw Reindexed(ex, indexes);
            }

            var route = new PredictionRoute(experiment.Name, arm.Name);
            for (var k = 0; k < indexes.Count; k++)
            {
                results[indexes[k]] = served.Results[k] with { Experiment = route.Experiment, Arm = route.Arm };
            }

            metrics.ExperimentPredicted(route.Experiment, route.Arm, indexes.Count);
            (task, name) = (served.Task, served.Name);
            ignored.AddRange(served.Ignored.Where(c => !ignored.Contains(c)));
        }

        for (var i = 0; i < results.Length; i++)
        {
            observer.Predicted(results[i], task, request.EntityIds?[i]);
        }

        return new BatchPredictionResult(
            name,
            results,
            results.Count(r => r.Cached),
            Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            ignored);
    }

    // An arm's part of a batch reports its rows by their index in the part; the caller knows them by their index in the request.
    private static ModuleException Reindexed(ModuleException exception, List<int> indexes)
    {
        var errors = exception.Errors.ToDictionary(
            e => RowIndex().Replace(e.Key, m => string.Create(
                CultureInfo.InvariantCulture,
                $"rows[{indexes[int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)]}]")),
            e => e.Value);
        return new ModuleException(exception.Kind, exception.Message, errors, exception);
    }

    [GeneratedRegex(@"^rows\[(\d+)\]")]
    private static partial Regex RowIndex();

    private sealed record ServedRows(
        string Name,
        IReadOnlyList<PredictionResult> Results,
        ModelTask Task,
        double LatencyMs,
        IReadOnlyList<string> Ignored);
}
