using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Logging;

namespace Formanova.Modules.Model.Experiments;

/// <summary>
/// The experiments store behind <see cref="IExperimentModule"/> (docs/experiments.md). Every change is written before
/// it returns and reloads this instance's routing snapshot, so the next request here is routed by it.
/// </summary>
internal sealed class ExperimentService(
    ExperimentStore store,
    ExperimentPlanner planner,
    ExperimentRouter router,
    TimeProvider clock,
    ILogger<ExperimentService> logger) : IExperimentModule
{
    public async Task<ExperimentInfo> CreateAsync(CreateExperimentRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var name = ModelNames.Name(request.Name, "name");
        var model = ModelNames.Name(request.Model, "model");
        // Checked before the arms are loaded, so a duplicate fails at once; the insert's unique indexes decide a race.
        if (await store.FindAsync(name, cancellationToken) is not null)
        {
            throw new ModuleException(ErrorKind.Conflict, $"Experiment '{name}' exists already.");
        }

        if (await store.FindLiveAsync(model, cancellationToken) is { } live)
        {
            throw new ModuleException(
                ErrorKind.Conflict,
                $"Model {model} already has the {live.Status} experiment '{live.Name}'; end it before starting another.");
        }

        var (settings, arms) = await planner.PlanAsync(model, request, cancellationToken);
        var now = clock.GetUtcNow();
        var row = new ExperimentRow
        {
            Name = name,
            Model = model,
            Status = ExperimentStore.StatusText(ExperimentStatus.Running),
            SettingsJson = ExperimentStore.Json(settings),
            ArmsJson = ExperimentStore.Json(arms),
            CreatedAt = now,
            UpdatedAt = now,
        };
        await store.InsertAsync(row, cancellationToken);
        await router.ReloadAsync(cancellationToken);
        logger.LogInformation(
            "Started {Mode} experiment {Experiment} on {Model}: {Arms}",
            settings.Mode,
            name,
            model,
            string.Join(", ", arms.Select(a => $"{a.Name}={a.Version} ({a.Weight})")));
        return row.ToInfo();
    }

    public void ValidateSettings(CreateExperimentRequest request) =>
        ExperimentPlanner.Settings(request ?? throw new ArgumentNullException(nameof(request)));

    public async Task<ExperimentInfo> GetAsync(string name, CancellationToken cancellationToken = default) =>
        (await GetRowAsync(name, cancellationToken)).ToInfo();

    public async Task<IReadOnlyList<ExperimentInfo>> ListAsync(string? model = null, CancellationToken cancellationToken = default)
    {
        var rows = await store.ListAsync(model is null ? null : ModelNames.Name(model, "model"), cancellationToken);
        return [.. rows.Select(r => r.ToInfo())];
    }

    public async Task<ExperimentInfo> SetWeightsAsync(
        string name,
        IReadOnlyDictionary<string, double> weights,
        CancellationToken cancellationToken = default)
    {
        var row = await GetRowAsync(name, cancellationToken);
        ThrowIfEnded(row);
        row.ArmsJson = ExperimentStore.Json(ExperimentPlanner.Reweigh(row.Arms, weights));
        await UpdateAsync(row, cancellationToken);
        logger.LogInformation(
            "Experiment {Experiment} weights: {Arms}",
            row.Name,
            string.Join(", ", row.Arms.Select(a => $"{a.Name}={a.Weight}")));
        return row.ToInfo();
    }

    public async Task<ExperimentInfo> SetStatusAsync(
        string name,
        ExperimentStatus status,
        string? winner = null,
        string? reason = null,
        CancellationToken cancellationToken = default)
    {
        if (!Enum.IsDefined(status))
        {
            throw ModuleException.Invalid("status", "The status is running, paused, decided, rolledBack or stopped.");
        }

        var row = await GetRowAsync(name, cancellationToken);
        ThrowIfEnded(row);
        if (status == ExperimentStatus.Decided && !row.Arms.Any(a => a.Name == winner))
        {
            throw ModuleException.Invalid(
                "winner",
                $"A decided experiment names its winning arm: one of {string.Join(", ", row.Arms.Select(a => a.Name))}.");
        }

        if (status != ExperimentStatus.Decided && winner is not null)
        {
            throw ModuleException.Invalid("winner", "Only a decided experiment has a winner.");
        }

        var final = status is not (ExperimentStatus.Running or ExperimentStatus.Paused);
        row.Status = ExperimentStore.StatusText(status);
        row.Winner = winner;
        row.Reason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
        row.EndedAt = final ? clock.GetUtcNow() : null;
        await UpdateAsync(row, cancellationToken);
        logger.LogInformation("Experiment {Experiment} is {Status}: {Reason}", row.Name, row.Status, row.Reason);
        return row.ToInfo();
    }

    private static void ThrowIfEnded(ExperimentRow row)
    {
        if (row.ExperimentStatus is not (ExperimentStatus.Running or ExperimentStatus.Paused))
        {
            throw new ModuleException(ErrorKind.Conflict, $"Experiment '{row.Name}' has ended ({row.Status}); it no longer changes.");
        }
    }

    private async Task<ExperimentRow> GetRowAsync(string name, CancellationToken cancellationToken) =>
        await store.FindAsync(ModelNames.Name(name, "name"), cancellationToken) ?? throw ModuleException.NotFound("Experiment", name);

    private async Task UpdateAsync(ExperimentRow row, CancellationToken cancellationToken)
    {
        row.UpdatedAt = row.EndedAt ?? clock.GetUtcNow();
        if (!await store.UpdateAsync(row, cancellationToken))
        {
            throw new ModuleException(ErrorKind.Conflict, $"Experiment '{row.Name}' ended while it was being changed.");
        }

        await router.ReloadAsync(cancellationToken);
    }
}
