using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Temporal;

/// <summary>The <c>Temporal</c> section: where the workflow engine is and how to reach it.</summary>
internal sealed class TemporalOptions
{
    public const string SectionName = "Temporal";

    /// <summary>host:port of a Temporal cluster. Empty: an embedded server is started in-process on a loopback port.</summary>
    public string Address { get; set; } = "";

    [Required]
    public string Namespace { get; set; } = "default";

    [Required]
    public string TaskQueue { get; set; } = "formanova-primary";

    /// <summary>Bearer API key for Temporal Cloud or a cluster behind an authenticating proxy.</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// What a stopping host gives the worker on top of <see cref="GracefulShutdownSeconds"/>: for the activities it
    /// cancels to hand their attempts back, and for the rest of the host to stop. deploy/tools/consistency.py reads it.
    /// </summary>
    public const int ShutdownMarginSeconds = 30;

    /// <summary>Bound of a Temporal probe (connect + GetSystemInfo): the readiness check, and the wait of a request in an outage.</summary>
    [Range(1, 300)]
    public int ConnectTimeoutSeconds { get; set; } = 5;

    /// <summary>
    /// How long a stopping worker lets running activities finish before it cancels them (Temporal's
    /// GracefulShutdownTimeout); it polls no new tasks meanwhile. The host's shutdown timeout is set to this plus
    /// <see cref="ShutdownMarginSeconds"/>, which must fit in the termination grace period of the worker's pod.
    /// </summary>
    [Range(0, 3600)]
    public int GracefulShutdownSeconds { get; set; } = 240;

    [Range(1, 600)]
    public int RpcTimeoutSeconds { get; set; } = 30;

    /// <summary>How often the worker reads running-workflow counts and the activity backlog for the gauges.</summary>
    [Range(0.1, 3600)]
    public double StatsPollSeconds { get; set; } = 15;

    /// <summary>
    /// gzip of client requests: <c>auto</c> (off for the embedded loopback server, on for a remote cluster), <c>gzip</c> or <c>none</c>.
    /// </summary>
    [RegularExpression("^(auto|gzip|none)$", ErrorMessage = "Temporal:GrpcCompression must be auto, gzip or none.")]
    public string GrpcCompression { get; set; } = "auto";

    /// <summary>
    /// Compress only where bytes cost more than CPU: on loopback, gzip is pure CPU (a fifth of a one-activity workflow's).
    /// </summary>
    public bool UsesGzip => GrpcCompression == "gzip" || (GrpcCompression == "auto" && !IsEmbedded);

    /// <summary>
    /// The SDK's guard that fails a workflow task when workflow code escapes the workflow's task scheduler
    /// (Task.Run, ConfigureAwait(false), real timers). It listens to the runtime's task events, which makes every
    /// await in the process pay for an event. On unless configured off: appsettings.json turns it off for the
    /// service, the test host turns it back on, so such code fails in the tests that run every workflow.
    /// </summary>
    public bool DetectWorkflowTaskEscapes { get; set; } = true;

    [ValidateObjectMembers]
    public EmbeddedOptions Embedded { get; set; } = new();

    public TlsOptions Tls { get; set; } = new();

    public bool IsEmbedded => string.IsNullOrWhiteSpace(Address);

    internal sealed class EmbeddedOptions
    {
        /// <summary>Loopback port of the embedded server; 0 picks a free one.</summary>
        [Range(0, 65535)]
        public int Port { get; set; } = 7233;

        /// <summary>SQLite file for workflow histories (relative to the data directory) or <c>:memory:</c>.</summary>
        [Required]
        public string StoragePath { get; set; } = "temporal.db";

        /// <summary>How long closed workflows stay visible (days) in the embedded server's namespace.</summary>
        [Range(1, 3650)]
        public int RetentionDays { get; set; } = 7;

        /// <summary>
        /// Export a server span for every RPC the embedded server answers, to debug the server. Off by default: the
        /// worker's polls alone would outnumber the API's spans, and the client side (StartWorkflow, RunActivity) is
        /// traced either way.
        /// </summary>
        public bool TraceRpcs { get; set; }
    }

    internal sealed class TlsOptions
    {
        public bool Enabled { get; set; }

        /// <summary>PEM file of the CA that signed the server certificate; empty trusts the system roots.</summary>
        public string? ServerRootCaCertPath { get; set; }

        /// <summary>PEM client certificate and key for mutual TLS (both or neither).</summary>
        public string? ClientCertPath { get; set; }

        public string? ClientKeyPath { get; set; }

        /// <summary>Overrides the server name checked against the certificate.</summary>
        public string? Domain { get; set; }
    }
}

/// <summary>How the synchronous POST /predictions waits for its run (<see cref="WorkflowsOptions.SyncAnswer"/>).</summary>
internal enum SyncAnswerShape
{
    Early,
    Result,
}

/// <summary>The <c>Workflows</c> section: activity policies and per-workflow defaults.</summary>
internal sealed class WorkflowsOptions
{
    public const string SectionName = "Workflows";

    /// <summary>How long POST /predictions waits for the workflow before answering 202.</summary>
    [Range(0.01, 300)]
    public double SyncTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// How POST /predictions waits: <see cref="SyncAnswerShape.Early"/> starts the run with its <c>await_answer</c>
    /// update (update-with-start) and answers once post-processing is done, while the run persists and emits after;
    /// <see cref="SyncAnswerShape.Result"/> starts the run and waits for its result, after persistence and events.
    /// Result is the default: on the shipped host it gave more predictions per second for less CPU per prediction
    /// (docs/benchmarks.md, "Synchronous prediction"), since the early shape persists through a regular activity.
    /// </summary>
    [EnumDataType(typeof(SyncAnswerShape))]
    public SyncAnswerShape SyncAnswer { get; set; } = SyncAnswerShape.Result;

    [ValidateObjectMembers]
    public RetryOptions Retry { get; set; } = new();

    [ValidateObjectMembers]
    public TimeoutOptions Timeouts { get; set; } = new();

    [ValidateObjectMembers]
    public ExternalServiceOptions ExternalService { get; set; } = new();

    [ValidateObjectMembers]
    public TrainingOptions Training { get; set; } = new();

    [ValidateObjectMembers]
    public BatchOptions Batch { get; set; } = new();

    [ValidateObjectMembers]
    public WebhookOptions Webhooks { get; set; } = new();

    internal sealed class RetryOptions
    {
        [Range(0.001, 3600)]
        public double InitialIntervalSeconds { get; set; } = 1;

        [Range(1, 10)]
        public double BackoffCoefficient { get; set; } = 2.0;

        [Range(0.001, 86400)]
        public double MaximumIntervalSeconds { get; set; } = 60;

        /// <summary>
        /// 8: with the 1 s, ×2, 60 s cap above, the attempts span about two minutes (1+2+4+8+16+32+60 s), so a step
        /// outlasts a database restart or failover of that length instead of failing a run that was accepted.
        /// </summary>
        [Range(1, 100)]
        public int MaximumAttempts { get; set; } = 8;
    }

    internal sealed class TimeoutOptions
    {
        [Range(0.1, 86400)]
        public double ValidateSeconds { get; set; } = 30;

        [Range(0.1, 86400)]
        public double InferenceSeconds { get; set; } = 60;

        [Range(0.1, 86400)]
        public double PrepareSeconds { get; set; } = 45;

        [Range(0.1, 86400)]
        public double ExternalSeconds { get; set; } = 30;

        [Range(0.1, 86400)]
        public double AggregateSeconds { get; set; } = 30;

        [Range(0.1, 86400)]
        public double PersistSeconds { get; set; } = 30;

        [Range(0.1, 86400)]
        public double EmitSeconds { get; set; } = 20;
    }

    internal sealed class ExternalServiceOptions
    {
        /// <summary>Endpoint POSTed the validated input when a request asks for enrichment; empty disables the call.</summary>
        public string? Url { get; set; }

        /// <summary>Header carrying the credential, e.g. <c>Authorization</c> with a value <c>Bearer …</c>.</summary>
        public string AuthHeader { get; set; } = "Authorization";

        public string? AuthValue { get; set; }

        [Range(0.1, 600)]
        public double TimeoutSeconds { get; set; } = 30;
    }

    internal sealed class TrainingOptions
    {
        [Range(1, 86400 * 7)]
        public double PrepareTimeoutSeconds { get; set; } = 7200;

        [Range(1, 86400 * 7)]
        public double TrainTimeoutSeconds { get; set; } = 14400;

        [Range(1, 3600)]
        public double HeartbeatTimeoutSeconds { get; set; } = 120;

        [Range(1, 10)]
        public int TrainMaximumAttempts { get; set; } = 3;

        /// <summary>Default approval deadline when a run asks for approval and names none.</summary>
        [Range(1, 86400 * 30)]
        public double ApprovalTimeoutSeconds { get; set; } = 86400;

        /// <summary>
        /// Candidates of a <c>trainer: "auto"</c> run evaluated side by side; each caps its threads to its share of the cores.
        /// </summary>
        [Range(1, 64)]
        public int AutoParallelism { get; set; } = 2;

        /// <summary>The time budget of a <c>trainer: "auto"</c> search when the request names none (at most 14400 s).</summary>
        [Range(1, 14_400)]
        public double AutoTimeBudgetSeconds { get; set; } = 900;
    }

    internal sealed class BatchOptions
    {
        [Range(1, 1_000_000)]
        public int ChunkSize { get; set; } = 50_000;

        /// <summary>Chunks in flight; with one prediction thread per chunk (PredictThreads), this is how many cores predict.</summary>
        [Range(1, 64)]
        public int Parallelism { get; set; } = 2;

        /// <summary>Chunks one run handles before it continues as new, keeping each history small.</summary>
        [Range(1, 10_000)]
        public int ChunksPerRun { get; set; } = 50;

        [Range(1, 86400)]
        public double ChunkTimeoutSeconds { get; set; } = 300;

        /// <summary>Rows per IModelModule batch call inside a chunk; at most Model:Inference:MaxBatchRows.</summary>
        [Range(1, 1_000_000)]
        public int PredictRows { get; set; } = 10_000;

        /// <summary>
        /// Threads one chunk's predictions use; 0 means every core. Chunks in flight times this should not exceed the cores.
        /// </summary>
        [Range(0, 1024)]
        public int PredictThreads { get; set; } = 1;
    }

    /// <summary>
    /// Durable delivery runs when the Event module's own dispatcher is off (<c>Event:Webhooks:Dispatcher:Enabled=false</c>):
    /// one switch, so a delivery never has two senders.
    /// </summary>
    internal sealed class WebhookOptions
    {
        [Range(10, 60_000)]
        public int PollIntervalMilliseconds { get; set; } = 1000;
    }
}

[OptionsValidator]
internal sealed partial class TemporalOptionsValidator : IValidateOptions<TemporalOptions>;

[OptionsValidator]
internal sealed partial class WorkflowsOptionsValidator : IValidateOptions<WorkflowsOptions>;
