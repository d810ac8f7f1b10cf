using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Monitoring;

/// <summary>The <c>Monitoring</c> configuration section (docs/configuration.md, docs/monitoring.md).</summary>
internal sealed class MonitoringOptions
{
    public const string SectionName = "Monitoring";

    /// <summary>False counts no live traffic; checks then find no rows.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The share of a monitored model's predictions counted into its live profile.</summary>
    [Range(0.0, 1.0)]
    public double SampleRate { get; set; } = 1.0;

    /// <summary>Seconds of traffic per live window: each instance flushes its counts to the database this often.</summary>
    [Range(1, 86_400)]
    public int WindowSeconds { get; set; } = 300;

    /// <summary>Live windows and check results older than this many days are deleted.</summary>
    [Range(1, 3650)]
    public int RetentionDays { get; set; } = 30;

    /// <summary>The most versions one instance counts at once; traffic of others is not counted (and is logged once).</summary>
    [Range(1, 10_000)]
    public int MaxTrackedVersions { get; set; } = 200;

    /// <summary>Seconds between two reads of the policies, so every instance counts the models another one enabled.</summary>
    [Range(1, 86_400)]
    public int PolicyRefreshSeconds { get; set; } = 60;

    /// <summary>The most features per model exported as drift gauges (the first in the model's order): bounds the series.</summary>
    [Range(1, 1000)]
    public int MaxGaugeFeatures { get; set; } = 50;
}

[OptionsValidator]
internal sealed partial class MonitoringOptionsValidator : IValidateOptions<MonitoringOptions>;
