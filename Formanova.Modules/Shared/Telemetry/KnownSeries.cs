using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Modules.Shared.Telemetry;

/// <summary>
/// Exports, at zero, the counter series their owner knows it can emit, once the host's metrics pipeline listens.
/// Prometheus's <c>rate()</c> and <c>increase()</c> read a series from its second sample on, so a counter series that
/// first appears at its first increment loses that increment: a first failed run, retry or Redis failure would read
/// 0, and the alerts on it could not fire. Registered with <see cref="KnownSeriesExtensions.AddKnownSeries"/> next to
/// the instruments' owner, which derives the label values from the constants it records with; the host runs every
/// export once at start-up (Formanova.Host/Telemetry/KnownSeriesExporter.cs). docs/observability.md lists the series.
/// </summary>
public sealed class KnownSeries(Action<IServiceProvider> export)
{
    public void Export(IServiceProvider services) => export(services);
}

public static class KnownSeriesExtensions
{
    /// <summary>Registers <paramref name="export"/>, which adds 0 to each counter for each label set it knows.</summary>
    public static IServiceCollection AddKnownSeries(this IServiceCollection services, Action<IServiceProvider> export) =>
        services.AddSingleton(new KnownSeries(export));
}
