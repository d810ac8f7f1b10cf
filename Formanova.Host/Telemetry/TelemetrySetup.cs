using Formanova.Modules.Shared.Caching;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Logging.Console;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Formanova.Host.Telemetry;

/// <summary>
/// OpenTelemetry metrics (scraped by Prometheus at /metrics) and traces (exported over OTLP when
/// OTEL_EXPORTER_OTLP_ENDPOINT is set) for the API, the database, Redis and the modules' own instruments.
/// </summary>
internal static class TelemetrySetup
{
    public static IServiceCollection AddFormanovaTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        var otlp = !string.IsNullOrWhiteSpace(configuration[TraceSampling.ExporterVariable]);
        services.AddSingleton<SystemMetrics>();
        services.AddHostedService<KnownSeriesExporter>();
        UseBatchedConsole(services);

        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(
                serviceName: configuration["OTEL_SERVICE_NAME"] ?? "formanova",
                serviceVersion: typeof(TelemetrySetup).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics =>
            {
                metrics
                    .AddMeter(FormanovaTelemetry.MeterName, SystemMetrics.MeterName)
                    // OpenTelemetry's default buckets suit milliseconds; durations in seconds need their own,
                    // including the 1 s and 5 s edges that the alert rules use.
                    .AddView(instrument => instrument.Meter.Name == FormanovaTelemetry.MeterName && instrument.Unit == "s"
                        ? new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets }
                        : null)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddProcessInstrumentation()
                    .AddPrometheusExporter();
                if (otlp)
                {
                    metrics.AddOtlpExporter();
                }
            })
            .WithTracing(tracing =>
            {
                tracing
                    .SetFormanovaSampler(configuration)
                    .AddSource(FormanovaTelemetry.ActivitySourceName)
                    .AddAspNetCoreInstrumentation(options => options.Filter = context => !IsProbe(context.Request.Path))
                    .AddHttpClientInstrumentation()
                    .AddNpgsql()
                    .AddRedisInstrumentation()
                    // The Redis multiplexer is created lazily on first use; instrument it the moment it exists.
                    .ConfigureRedisInstrumentation((provider, instrumentation) =>
                        provider.GetRequiredService<RedisConnection>().Connected += connection => instrumentation.AddConnection(
                            connection));
                if (otlp)
                {
                    tracing.AddOtlpExporter();
                }
            });
        return services;
    }

    /// <summary>Puts <see cref="BatchedConsoleLoggerProvider"/> in place of the framework's console logger, where there is one.</summary>
    private static void UseBatchedConsole(IServiceCollection services)
    {
        var console = services
            .Where(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(ConsoleLoggerProvider))
            .ToList();
        if (console.Count == 0)
        {
            return;
        }

        console.ForEach(d => services.Remove(d));
        services.AddSingleton<ILoggerProvider, BatchedConsoleLoggerProvider>();
    }

    public static IEndpointConventionBuilder MapMetricsEndpoint(this IEndpointRouteBuilder endpoints)
    {
        endpoints.ServiceProvider.GetRequiredService<SystemMetrics>();
        return endpoints.MapPrometheusScrapingEndpoint("/metrics");
    }

    private static readonly double[] SecondsBuckets
        = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 14400];

    /// <summary>Health probes and metric scrapes: every few seconds, they would drown the traces and request lines that matter.</summary>
    internal static bool IsProbe(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
            || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase);
}
