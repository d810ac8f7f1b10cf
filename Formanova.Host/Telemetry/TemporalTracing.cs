using System.Diagnostics;
using Formanova.Modules.Shared.Telemetry;
using Temporalio.Api.Common.V1;
using Temporalio.Client;
using Temporalio.Client.Interceptors;
using Temporalio.Converters;

namespace Formanova.Host.Telemetry;

/// <summary>
/// Carries the W3C trace context through Temporal headers. The header holds a JSON object of the
/// <c>traceparent</c>/<c>tracestate</c> carrier under <c>_tracer-data</c>, the key the Temporal SDKs'
/// OpenTelemetry interceptors use, so a trace can cross into workers written with those.
/// </summary>
internal static class TemporalTracing
{
    public const string HeaderKey = "_tracer-data";

    /// <summary><paramref name="headers"/> plus the context of <paramref name="activity"/>; null when there is none to carry.</summary>
    public static IDictionary<string, Payload>? Inject(Activity? activity, IDictionary<string, Payload>? headers)
    {
        if (activity is null)
        {
            return headers;
        }

        var carrier = new Dictionary<string, string>(StringComparer.Ordinal) { ["traceparent"] = activity.Id! };
        if (activity.TraceStateString is { Length: > 0 } state)
        {
            carrier["tracestate"] = state;
        }

        return With(headers, DataConverter.Default.PayloadConverter.ToPayload(carrier));
    }

    /// <summary><paramref name="headers"/> plus an already encoded trace header, as a workflow forwards its own.</summary>
    public static IDictionary<string, Payload>? With(IDictionary<string, Payload>? headers, Payload? trace)
    {
        if (trace is null)
        {
            return headers;
        }

        var copy = headers is null
            ? new Dictionary<string, Payload>(StringComparer.Ordinal)
            : new Dictionary<string, Payload>(headers, StringComparer.Ordinal);
        copy[HeaderKey] = trace;
        return copy;
    }

    public static ActivityContext Extract(IReadOnlyDictionary<string, Payload>? headers)
    {
        if (headers is null || !headers.TryGetValue(HeaderKey, out var payload))
        {
            return default;
        }

        try
        {
            var carrier = DataConverter.Default.PayloadConverter.ToValue<Dictionary<string, string>>(payload);
            var found = carrier.TryGetValue("traceparent", out var parent)
                && ActivityContext.TryParse(parent, carrier.GetValueOrDefault("tracestate"), isRemote: true, out var context);
            return found ? context : default;
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
        {
            // A malformed header from a foreign client costs the link, never the activity.
            return default;
        }
    }
}

/// <summary>
/// Client side: a span per workflow start, signal and query, whose context travels in the Temporal headers.
/// Registered on the hosted client (TemporalClientConnectOptions.Interceptors). Deliberately not an
/// IWorkerInterceptor too: the worker would pick it up from the client and run it twice.
/// </summary>
internal sealed class TemporalClientTracingInterceptor : IClientInterceptor
{
    public ClientOutboundInterceptor InterceptClient(ClientOutboundInterceptor nextInterceptor) => new Outbound(nextInterceptor);

    private sealed class Outbound(ClientOutboundInterceptor next) : ClientOutboundInterceptor(next)
    {
        public override Task<WorkflowHandle<TWorkflow, TResult>> StartWorkflowAsync<TWorkflow, TResult>(StartWorkflowInput input) =>
            TracedAsync(
                $"{(input.Options.StartSignal is null ? "StartWorkflow" : "SignalWithStartWorkflow")}:{input.Workflow}", input.Options
                    .Id, input.Headers,
                headers => base.StartWorkflowAsync<TWorkflow, TResult>(input with { Headers = headers }));

        /// <summary>
        /// Update-with-start (the early answer of POST /predictions): the span is the run's start, as for a plain start,
        /// so a prediction's trace has the same shape in either Workflows:SyncAnswer; its context rides in the start's
        /// headers, which the run's activities read.
        /// </summary>
        public override Task<WorkflowUpdateHandle<TUpdateResult>> StartUpdateWithStartWorkflowAsync<TUpdateResult>(
            StartUpdateWithStartWorkflowInput input)
        {
            var start = input.Options.StartWorkflowOperation!;
            return TracedAsync($"StartWorkflow:{start.Workflow}", start.Options.Id, start.Headers, headers =>
            {
                start.Headers = headers;
                return base.StartUpdateWithStartWorkflowAsync<TUpdateResult>(input);
            });
        }

        public override Task SignalWorkflowAsync(SignalWorkflowInput input) =>
            TracedAsync<object?>($"SignalWorkflow:{input.Signal}", input.Id, input.Headers, async headers =>
            {
                await base.SignalWorkflowAsync(input with { Headers = headers });
                return null;
            });

        public override Task<TResult> QueryWorkflowAsync<TResult>(QueryWorkflowInput input) =>
            TracedAsync(
                $"QueryWorkflow:{input.Query}",
                input.Id,
                input.Headers,
                headers => base.QueryWorkflowAsync<TResult>(input with { Headers = headers }));

        /// <summary>Runs <paramref name="call"/> in a client span whose context rides in the call's headers.</summary>
        private static async Task<T> TracedAsync<T>(
            string name, string? workflowId, IDictionary<string, Payload>? headers, Func<IDictionary<string, Payload>?, Task<T>> call)
        {
            using var span = Start(name, workflowId);
            try
            {
                return await call(TemporalTracing.Inject(span ?? Activity.Current, headers));
            }
            catch (Exception ex)
            {
                span?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
                throw;
            }
        }

        private static Activity? Start(string name, string? workflowId)
        {
            var span = FormanovaTelemetry.ActivitySource.StartActivity(name, ActivityKind.Client);
            span?.SetTag("temporal.workflow.id", workflowId);
            return span;
        }
    }
}
