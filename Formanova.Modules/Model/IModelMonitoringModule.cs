namespace Formanova.Modules.Model;

/// <summary>
/// The stored side of model monitoring (docs/monitoring.md): policies, the live windows the host flushes and the
/// checks' time series. The statistics and the schedule live in the host, which composes this with the Data module's
/// feedback and Temporal.
/// </summary>
public interface IModelMonitoringModule
{
    Task<MonitoringPolicy?> GetPolicyAsync(string model, CancellationToken cancellationToken = default);

    /// <summary>Creates or replaces the model's policy (the model must exist).</summary>
    Task<MonitoringPolicy> PutPolicyAsync(MonitoringPolicy policy, CancellationToken cancellationToken = default);

    /// <summary>Deletes the policy; false when there was none.</summary>
    Task<bool> DeletePolicyAsync(string model, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<MonitoringPolicy>> ListPoliciesAsync(CancellationToken cancellationToken = default);

    /// <summary>Records when the policy last retrained (its cooldown's start).</summary>
    Task MarkRetrainedAsync(string model, DateTimeOffset at, CancellationToken cancellationToken = default);

    Task AppendWindowsAsync(IReadOnlyList<LiveWindow> windows, CancellationToken cancellationToken = default);

    /// <summary>The version's windows that started in [<paramref name="since"/>, <paramref name="until"/>).</summary>
    Task<IReadOnlyList<LiveWindow>> ReadWindowsAsync(
        string model,
        string version,
        DateTimeOffset since,
        DateTimeOffset until,
        CancellationToken cancellationToken = default);

    /// <summary>Deletes windows and checks from before <paramref name="before"/>; returns how many rows went.</summary>
    Task<long> SweepAsync(DateTimeOffset before, CancellationToken cancellationToken = default);

    Task AppendCheckAsync(MonitoringCheck check, CancellationToken cancellationToken = default);

    /// <summary>
    /// The model's checks in [<paramref name="since"/>, <paramref name="until"/>), newest first, at most
    /// <paramref name="limit"/>.
    /// </summary>
    Task<IReadOnlyList<MonitoringCheck>> ListChecksAsync(
        string model,
        DateTimeOffset since,
        DateTimeOffset until,
        int limit,
        CancellationToken cancellationToken = default);
}
