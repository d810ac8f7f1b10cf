using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Formanova.Modules.Shared;
using Microsoft.Extensions.Options;
using OpenTelemetry.Trace;

namespace Formanova.Host.Telemetry;

/// <summary>The <c>Telemetry:Traces</c> section.</summary>
internal sealed class TraceOptions
{
    public const string SectionName = "Telemetry:Traces";

    /// <summary>
    /// Share of new traces that are recorded and exported. A span with a parent follows the parent's decision, so a
    /// trace is kept or dropped whole, across the workflow's activities too (they continue the request's trace).
    /// </summary>
    [Range(0.0, 1.0)]
    public double SampleRatio { get; set; } = 1.0;

    /// <summary>
    /// Whether new traces are recorded at all. Unset: only when an exporter is configured (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>),
    /// since without one every request's span was built, tagged and dropped. Either way a caller's sampled
    /// <c>traceparent</c> is followed, and trace ids still reach logs, ProblemDetails and workflows.
    /// </summary>
    public bool? Record { get; set; }
}

[OptionsValidator]
internal sealed partial class TraceOptionsValidator : IValidateOptions<TraceOptions>;

/// <summary>
/// The trace sampler (docs/observability.md, "Sampling"): parent-based over a trace-id ratio, from
/// <c>Telemetry:Traces:SampleRatio</c>; or, when the standard <c>OTEL_TRACES_SAMPLER</c> variable is set, whatever it
/// names, as the OpenTelemetry SDK reads it (a sampler set in code would make the SDK ignore the variable).
/// </summary>
internal static class TraceSampling
{
    public const string SamplerVariable = "OTEL_TRACES_SAMPLER";
    public const string SamplerArgumentVariable = "OTEL_TRACES_SAMPLER_ARG";
    public const string ExporterVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    // The values of the specification that the .NET SDK implements; it would silently sample everything for any other.
    private static readonly string[] StandardSamplers =
        ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"];

    public static TracerProviderBuilder SetFormanovaSampler(this TracerProviderBuilder tracing, IConfiguration configuration)
    {
        tracing.ConfigureServices(services => services
            .AddValidatedOptions<TraceOptions, TraceOptionsValidator>(configuration, TraceOptions.SectionName)
            .Validate(
                _ => StandardSamplerIsValid(configuration[SamplerVariable], configuration[SamplerArgumentVariable]),
                $"{SamplerVariable} must be one of {string.Join(", ", StandardSamplers)}, and {SamplerArgumentVariable} (for "
                    + "the ratio samplers) a number from 0 to 1."));
        var exporting = !string.IsNullOrWhiteSpace(configuration[ExporterVariable]);
        return string.IsNullOrWhiteSpace(configuration[SamplerVariable])
            ? tracing.SetSampler(provider => Sampler(provider.GetRequiredService<IOptions<TraceOptions>>().Value, exporting))
            : tracing;
    }

    // Parent-based either way: a root span is decided here, one with a parent follows the parent's decision.
    public static Sampler Sampler(TraceOptions options, bool exporting) => new ParentBasedSampler(options.Record ?? exporting
        ? new TraceIdRatioBasedSampler(options.SampleRatio)
        : new AlwaysOffSampler());

    internal static bool StandardSamplerIsValid(string? sampler, string? argument) =>
        string.IsNullOrWhiteSpace(sampler)
        || (StandardSamplers.Contains(sampler, StringComparer.Ordinal)
            && (!sampler.EndsWith("traceidratio", StringComparison.Ordinal)
                || string.IsNullOrWhiteSpace(argument)
                || (double.TryParse(argument, NumberStyles.Float, CultureInfo.InvariantCulture, out var ratio) && ratio is >= 0 and <= 1)));
}
