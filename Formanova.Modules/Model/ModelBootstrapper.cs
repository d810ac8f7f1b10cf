using Formanova.Modules.Model.Registry;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model;

/// <summary>
/// After start-up (in the background, so the host listens at once): sweeps what interrupted registrations left,
/// then, on an empty registry, trains and activates the demo model from the shipped sample generator.
/// </summary>
internal sealed class ModelBootstrapper(
    ModelRegistry registry,
    IModelModule models,
    IOptions<ModelOptions> options,
    ILogger<ModelBootstrapper> logger) : BackgroundService
{
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the sweep and any bootstrap training have finished (or failed and been logged).</summary>
    public Task Completed => _completed.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            // Start-up work of its own: the recovery's reads and any demo training are one trace, not a scatter of roots.
            await BackgroundTracing.WorkAsync("BootstrapModels", _ => BootstrapAsync(stoppingToken));
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.Conflict)
        {
            logger.LogInformation("Bootstrap: another instance registered the demo model first");
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Bootstrap of the model registry failed; the service runs without a demo model");
        }
        finally
        {
            _completed.TrySetResult();
        }
    }

    private async Task BootstrapAsync(CancellationToken stoppingToken)
    {
        await registry.RecoverAsync(stoppingToken);
        var bootstrap = options.Value.Bootstrap;
        if (bootstrap.Enabled && await registry.IsEmptyAsync(stoppingToken))
        {
            const ModelTask task = ModelTask.BinaryClassification;
            var result = await models.TrainAsync(
                new TrainModelRequest(
                    bootstrap.ModelName,
                    "1.0.0",
                    task,
                    SampleData.Columns(task),
                    Seed: bootstrap.Seed,
                    Activate: true,
                    Tags: new Dictionary<string, string> { ["source"] = "bootstrap" },
                    Notes: "Demo model trained at first start from the built-in synthetic customer sample (SampleData)."),
                SampleData.RowsAsync(task, bootstrap.Rows, bootstrap.Seed),
                cancellationToken: stoppingToken);
            logger.LogInformation(
                "Bootstrap: trained and activated {Model} {Version} (auc {Auc:F3})",
                result.Version.Name,
                result.Version.Version,
                result.Metrics.GetValueOrDefault("auc"));

            // Training grew the heap to several times what serving needs, once, at start; give it back now rather
            // than carry it as the idle footprint until some later collection decides to.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
    }
}
