using Formanova.Host.Telemetry;
using Formanova.Host.Workflows;
using Formanova.Host.Workflows.Batch;
using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Experiments;
using Formanova.Host.Workflows.Monitoring;
using Formanova.Host.Workflows.Processing;
using Formanova.Host.Workflows.Promotion;
using Formanova.Host.Workflows.Training;
using Formanova.Host.Workflows.Webhooks;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Telemetry;
using Microsoft.Extensions.Options;
using Temporalio.Client;
using Temporalio.Extensions.Hosting;

namespace Formanova.Host.Temporal;

/// <summary>The Temporal client, the embedded server, the hosted worker and its workflows, by role.</summary>
internal static class TemporalSetup
{
    public const string RolesKey = "Formanova:Roles";

    public static bool HasRole(IConfiguration configuration, string role)
    {
        var roles = configuration[RolesKey];
        return string.IsNullOrWhiteSpace(roles)
            || roles.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries).Contains(role, StringComparer.OrdinalIgnoreCase);
    }

    public static IServiceCollection AddFormanovaTemporal(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<TemporalOptions, TemporalOptionsValidator>(configuration, TemporalOptions.SectionName);
        services.AddValidatedOptions<WorkflowsOptions, WorkflowsOptionsValidator>(configuration, WorkflowsOptions.SectionName);

        var temporal = configuration.GetSection(TemporalOptions.SectionName).Get<TemporalOptions>() ?? new TemporalOptions();
        if (temporal.IsEmbedded)
        {
            // First of the Temporal services, so the server listens before the worker connects.
            services.AddSingleton<EmbeddedTemporalServer>();
            services.AddHostedService(sp => sp.GetRequiredService<EmbeddedTemporalServer>());
        }

        services.AddSingleton<TemporalClientTracingInterceptor>();
        services.AddTemporalClient(_ => { });
        services.AddOptions<TemporalClientConnectOptions>().Configure<IServiceProvider>((connect, provider) =>
        {
            var options = provider.GetRequiredService<IOptions<TemporalOptions>>().Value;
            connect.TargetHost = options.IsEmbedded ? provider.GetRequiredService<EmbeddedTemporalServer>().Address : options.Address;
            connect.Namespace = options.Namespace;
            connect.GrpcCompression = options.UsesGzip ? new GrpcCompression.Gzip() : new GrpcCompression.None();
            connect.LoggerFactory = provider.GetRequiredService<ILoggerFactory>();
            connect.Interceptors = [provider.GetRequiredService<TemporalClientTracingInterceptor>()];
            if (!string.IsNullOrWhiteSpace(options.ApiKey))
            {
                connect.ApiKey = options.ApiKey;
            }

            if (options.Tls.Enabled || !string.IsNullOrWhiteSpace(options.ApiKey))
            {
                connect.Tls = new TlsOptions
                {
                    ServerRootCACert = ReadOptional(options.Tls.ServerRootCaCertPath),
                    ClientCert = ReadOptional(options.Tls.ClientCertPath),
                    ClientPrivateKey = ReadOptional(options.Tls.ClientKeyPath),
                    Domain = string.IsNullOrWhiteSpace(options.Tls.Domain) ? null : options.Tls.Domain,
                };
            }
        });
        services.AddSingleton<WorkflowGateway>();
        services.AddSingleton<RetrainPlanner>();
        services.AddSingleton<MonitoringSchedules>();
        services.AddSingleton<TemporalAvailability>();
        services.AddHealthChecks().AddCheck<TemporalHealthCheck>("temporal", tags: ["ready"]);
        // No resilience handler: the activity's retry policy already retries with backoff, durably.
        services.AddHttpClient(ProcessingActivities.ExternalClient);

        if (HasRole(configuration, "worker"))
        {
            var sdkServices = services.Count;
            var worker = services.AddHostedTemporalWorker(temporal.TaskQueue);
            UseWaitingWorker(services, sdkServices, temporal.TaskQueue);
            worker.AddScopedActivities<CommonActivities>()
                .AddScopedActivities<ProcessingActivities>()
                .AddScopedActivities<TrainingActivities>()
                .AddScopedActivities<AutoTrainingActivities>()
                .AddScopedActivities<PromotionActivities>()
                .AddScopedActivities<BatchActivities>()
                .AddScopedActivities<WebhookActivities>()
                .AddScopedActivities<MonitoringActivities>()
                .AddScopedActivities<ExperimentActivities>();
            foreach (var workflow in Workflows)
            {
                worker.AddWorkflow(workflow);
            }

            var workerOptions = worker.ConfigureOptions();
            workerOptions.Configure<TemporalWorkerInterceptor, IOptions<TemporalOptions>>((options, interceptor, settings) =>
            {
                options.Interceptors = [interceptor];
                options.DisableWorkflowTracingEventListener = !settings.Value.DetectWorkflowTaskEscapes;
                options.GracefulShutdownTimeout = TimeSpan.FromSeconds(settings.Value.GracefulShutdownSeconds);
            });

            // The host waits for each hosted service's stop only this long, then stops the next (the embedded server,
            // registered before the worker, stops after it) and exits: it must outlast the worker's drain.
            services.AddOptions<HostOptions>().Configure<IOptions<TemporalOptions>>((host, settings) =>
            {
                var drain = TimeSpan.FromSeconds(settings.Value.GracefulShutdownSeconds + TemporalOptions.ShutdownMarginSeconds);
                host.ShutdownTimeout = drain > host.ShutdownTimeout ? drain : host.ShutdownTimeout;
            });
            services.AddSingleton<WorkflowMetrics>();
            // The names the worker really registered, read from its own options.
            services.AddKnownSeries(provider =>
            {
                var registered = provider.GetRequiredService<IOptionsMonitor<TemporalWorkerServiceOptions>>().Get(workerOptions.Name);
                provider.GetRequiredService<WorkflowMetrics>().ExportAtZero(
                    [.. registered.Workflows.Select(w => w.Name).OfType<string>()],
                    [.. registered.Activities.Select(a => a.Name).OfType<string>()]);
            });
            services.AddSingleton<TemporalWorkerInterceptor>();
            IReadOnlyList<string> types = [
                .. Workflows.Select(
                type => Temporalio.Workflows.WorkflowDefinition.Create(type).Name ?? type.Name)
            ];
            services.AddHostedService(provider => ActivatorUtilities.CreateInstance<TemporalStatsPoller>(provider, types));

            // One sender per delivery: the durable workflow only when the Event module's dispatcher is off.
            if (!configuration.GetValue("Event:Webhooks:Dispatcher:Enabled", true))
            {
                services.AddHostedService<WebhookDeliveryStarter>();
            }
        }

        return services;
    }

    /// <summary>
    /// Puts <see cref="TemporalWorkerHost"/> where AddHostedTemporalWorker registered the SDK's hosted service (the one
    /// IHostedService among the registrations from <paramref name="from"/> on), keeping its place in the start order.
    /// </summary>
    private static void UseWaitingWorker(IServiceCollection services, int from, string taskQueue)
    {
        var index = Enumerable.Range(from, services.Count - from).Single(i => services[i].ServiceType == typeof(IHostedService));
        services.AddSingleton(provider => ActivatorUtilities.CreateInstance<TemporalWorkerHost>(
            provider,
            new TemporalWorkerServiceIdentifier(taskQueue, null, false)));
        services[index] = ServiceDescriptor.Singleton<IHostedService>(provider => provider.GetRequiredService<TemporalWorkerHost>());
    }

    private static readonly Type[] Workflows =
        [
            typeof(ProcessingWorkflow), typeof(ModelTrainingWorkflow), typeof(ModelPromotionSaga), typeof(BatchInferenceWorkflow),
            typeof(WebhookDeliveryWorkflow), typeof(ModelMonitoringWorkflow), typeof(ExperimentWorkflow),
        ];

    private static byte[]? ReadOptional(string? path) => string.IsNullOrWhiteSpace(path) ? null : File.ReadAllBytes(path);
}
