using System.Collections.Concurrent;
using System.Text.Json;
using Formanova.Host.Workflows.Batch;
using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Monitoring;
using Formanova.Host.Workflows.Processing;
using Formanova.Host.Workflows.Promotion;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Temporalio.Activities;
using Temporalio.Exceptions;

namespace Formanova.Tests.Workflows.Fast;

/// <summary>
/// Every activity the workflows call, under the same names as the host's activity classes, answering from
/// delegates a test replaces: no module, database or model behind them. Each call is recorded by name (an emitted
/// event as <c>emit:TYPE</c>), so a test can assert the order of the steps.
/// </summary>
internal sealed partial class StubActivities
{
    private static readonly Dictionary<string, double> NoSettings = [];

    public ConcurrentQueue<string> Calls { get; } = new();

    // Processing
    public Func<ProcessingRequest, ValidatedInput> Validate { get; set; } =
        r => new(r.Model, r.Version ?? "1.0.0", r.Inputs, ["churned"], [.. r.Inputs.Keys]);

    public Func<ValidatedInput, PreparedData> Prepare { get; set; } = v => new(v.Inputs, null, [], []);

    public Func<InferenceInput, PredictionResult> Infer { get; set; } =
        i => new(i.Model, i.Version, "yes", null, 0.8, null, null, false, 1);

    public Func<FallbackInput, FallbackResult> Fallback { get; set; } = f => new(f.Model, f.FailedVersion, "0.9.0");

    public Func<ExternalCall, ExternalResponse> External { get; set; } = _ => new(200, null, 1);

    // Training
    public Func<TrainingRunInput, PreparedTraining> PrepareTraining { get; set; } = _ => new([], 1, 100, 0, []);

    public Func<TrainInput, TrainedVersion> Train { get; set; } =
        t => new(t.Run.Model, t.Run.Version, "stub", new() { ["auc"] = 0.9 }, 80, 20, 0.1);

    // Automatic training: three candidates ranked by AUC, LightGbm the best.
    public Func<TrainingRunInput, AutoTrainingPlan> PlanAuto { get; set; } = r => new(
        r.Task,
        new SelectionMetric("auc", true, false),
        [.. new[] { "FastTree", "LightGbm", "LbfgsLogisticRegression" }.Select(t => new TrainingCandidate(t, NoSettings))]);

    public Func<CandidateInput, Task<CandidateEvaluation>> Evaluate { get; set; } = c => Task.FromResult(
        Scored(c, c.Candidate.Trainer switch
        {
            "LightGbm" => 0.9,
            "FastTree" => 0.8,
            _ => 0.7,
        }));

    // Promotion
    public Func<string, Task> PromotionStep { get; set; } = _ => Task.CompletedTask;

    public string? PreviousVersion { get; set; } = "0.9.0";

    /// <summary>switch_active_version answers null, which the saga does not expect: a bug in the workflow code.</summary>
    public bool SwitchAnswersNull { get; set; }

    // Batch
    public Func<BatchInput, BatchPlan> Plan { get; set; } = b => new(b.Version ?? "1.0.0", b.DatasetId, [0, 10, 20], 25);

    public Func<ChunkInput, Task<ChunkResult>> Chunk { get; set; } =
        c => Task.FromResult(new ChunkResult(c.Index, c.Index < 2 ? 10 : 5, false, new(0, 1, 1, 1)));

    // Webhooks
    public Func<long, DeliveryAttemptResult> Deliver { get; set; } = _ => new(DeliveryOutcome.Delivered, null, 200, null);

    /// <summary>A candidate's evaluation with <paramref name="score"/> as its AUC.</summary>
    public static CandidateEvaluation Scored(CandidateInput input, double score) => new(
        input.Candidate.Trainer,
        input.Candidate.Hyperparameters,
        new Dictionary<string, double> { ["auc"] = score },
        score,
        80,
        20,
        0.1);

    /// <summary>The last two calls of a run that failed or was cancelled: its stored result, then WORKFLOW_FAILED.</summary>
    public static string[] FailureClosing(ResultStatus status) => [$"persist:{status}", $"emit:{IEventModule.WorkflowFailed}"];

    /// <summary>The attempt of the activity running now (1 on the first).</summary>
    public static int Attempt => ActivityExecutionContext.Current.Info.Attempt;

    /// <summary>A retryable failure, as a module's unavailable dependency becomes one.</summary>
    public static ApplicationFailureException Unavailable(string message) => new(message, ErrorTypes.Unavailable);

    public static ApplicationFailureException InvalidInput(string field, string reason) =>
        new(reason, ErrorTypes.InvalidInput, nonRetryable: true, details: [new Dictionary<string, string[]> { [field] = [reason] }]);

    [Activity("emit_event")]
    public Task<long> EmitEventAsync(EmitInput input) => Call($"emit:{input.Type}", () => 1L);

    [Activity("persist_result")]
    public Task<long> PersistResultAsync(PersistInput input) => Call($"persist:{input.Status}", () => 1L);

    [Activity("persist_and_emit")]
    public Task<long> PersistAndEmitAsync(FinishInput input)
    {
        Calls.Enqueue($"persist:{input.Result.Status}");
        foreach (var e in input.Events)
        {
            Calls.Enqueue($"emit:{e.Type}");
        }

        return Task.FromResult(1L);
    }

    [Activity("validate_input")]
    public Task<ValidatedInput> ValidateInputAsync(ProcessingRequest request) => Call("validate_input", () => Validate(request));

    [Activity("prepare_data")]
    public Task<PreparedData> PrepareDataAsync(ValidatedInput input, long? datasetId, string? entityId) =>
        Call("prepare_data", () => Prepare(input));

    [Activity("run_model_inference")]
    public Task<PredictionResult> RunModelInferenceAsync(InferenceInput input) => Call("run_model_inference", () => Infer(input));

    [Activity("fallback_model")]
    public Task<FallbackResult> FallbackModelAsync(FallbackInput input) => Call("fallback_model", () => Fallback(input));

    [Activity("call_external_service")]
    public Task<ExternalResponse> CallExternalServiceAsync(ExternalCall call) => Call("call_external_service", () => External(call));

    [Activity("prepare_training_data")]
    public Task<PreparedTraining> PrepareTrainingDataAsync(TrainingRunInput run) =>
        Call("prepare_training_data", () => PrepareTraining(run));

    [Activity("train_model")]
    public Task<TrainedVersion> TrainModelAsync(TrainInput input) => Call("train_model", () => Train(input));

    [Activity("plan_auto_training")]
    public Task<AutoTrainingPlan> PlanAutoTrainingAsync(TrainingRunInput run) => Call("plan_auto_training", () => PlanAuto(run));

    [Activity("evaluate_training_candidate")]
    public Task<CandidateEvaluation> EvaluateCandidateAsync(CandidateInput input)
    {
        Calls.Enqueue($"evaluate:{input.Candidate.Trainer}");
        return Evaluate(input);
    }

    [Activity("register_model")]
    public Task<long> RegisterModelAsync(TrainedVersion trained) => Call("register_model", () => 1L);

    [Activity("activate_model")]
    public Task<string> ActivateModelAsync(string model, string version) => Call("activate_model", () => version);

    [Activity("archive_model")]
    public Task<string> ArchiveModelAsync(string model, string version) => Call("archive_model", () => version);

    [Activity("check_model_load")]
    public Task<double> CheckLoadAsync(PromotionTarget target) => PromotionAsync("check_model_load", 1.0);

    [Activity("warm_model")]
    public Task<double> WarmAsync(PromotionTarget target) => PromotionAsync("warm_model", 1.0);

    [Activity("evict_warmed_model")]
    public Task<bool> EvictAsync(PromotionTarget target) => PromotionAsync("evict_warmed_model", true);

    [Activity("switch_active_version")]
    public Task<SwitchResult?> SwitchAsync(PromotionTarget target) =>
        PromotionAsync("switch_active_version", SwitchAnswersNull ? null : new SwitchResult(PreviousVersion));

    [Activity("restore_previous_version")]
    public Task<string?> RestoreAsync(RestoreInput input) => PromotionAsync("restore_previous_version", input.PreviousVersion);

    [Activity("smoke_test")]
    public Task<int> SmokeTestAsync(SmokeInput input) => PromotionAsync("smoke_test", 1);

    [Activity("emit_promotion_event")]
    public Task<long> EmitPromotionAsync(string type, PromotionTarget target, string? detail) => PromotionAsync($"emit:{type}", 1L);

    [Activity("plan_batch")]
    public Task<BatchPlan> PlanAsync(BatchInput input) => Call("plan_batch", () => Plan(input));

    [Activity("process_chunk")]
    public async Task<ChunkResult> ProcessChunkAsync(ChunkInput input)
    {
        Calls.Enqueue($"process_chunk:{input.Index}");
        return await Chunk(input);
    }

    // Monitoring
    public Func<string, MonitoringDecision> Monitor { get; set; } = model => new(
        new MonitoringCheck(model, "1.0.0", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "ok", 0, [], null,
            null, [], []),
        [],
        null,
        MonitoringRollout.None,
        null);

    [Activity("check_model")]
    public Task<MonitoringDecision> CheckModelAsync(string model) => Call("check_model", () => Monitor(model));

    public Func<RolloutExperimentInput, RolloutExperiment> RolloutExperiment { get; set; } = input => new(input.Name, true, null);

    [Activity("create_rollout_experiment")]
    public Task<RolloutExperiment> CreateRolloutExperimentAsync(RolloutExperimentInput input) =>
        Call($"create_rollout_experiment:{input.Control}->{input.Candidate}", () => RolloutExperiment(input));

    [Activity("attempt_webhook_delivery")]
    public Task<DeliveryAttemptResult> AttemptDeliveryAsync(long deliveryId) =>
        Call("attempt_webhook_delivery", () => Deliver(deliveryId));

    private Task<T> Call<T>(string name, Func<T> body)
    {
        Calls.Enqueue(name);
        return Task.FromResult(body());
    }

    private async Task<T> PromotionAsync<T>(string name, T result)
    {
        Calls.Enqueue(name);
        await PromotionStep(name);
        return result;
    }
}

/// <summary>Inputs for the fast tier: the policy of a run with short retry intervals and the host's default timeouts.</summary>
internal static class StubInputs
{
    public static StepPolicy Policy() => new(
        0.01,
        2,
        0.05,
        3,
        new StepTimeouts(
            Validate: 30,
            Inference: 60,
            Prepare: 45,
            External: 30,
            Aggregate: 30,
            Persist: 30,
            Emit: 20,
            TrainPrepare: 7200,
            Train: 14400,
            TrainHeartbeat: 120,
            Chunk: 300));

    public static Dictionary<string, JsonElement> Inputs() => new()
    {
        ["tenure_months"] = JsonSerializer.SerializeToElement(3.0),
        ["contract"] = JsonSerializer.SerializeToElement("month-to-month"),
    };

    public static ProcessingRequest Processing(bool callExternal = false, bool startPaused = false) => new(
        "job",
        "demo-churn",
        "1.0.0",
        null,
        Inputs(),
        null,
        null,
        callExternal,
        startPaused,
        new ProcessingParams(),
        "hash",
        Policy());

    public static TrainingRunInput Training(bool requireApproval = false, Dictionary<string, double>? minMetrics = null) => new(
        "churn",
        "2.0.0",
        ModelTask.BinaryClassification,
        7,
        null,
        null,
        42,
        0.2,
        minMetrics ?? new() { ["auc"] = 0.6 },
        [],
        Activate: true,
        requireApproval,
        3600,
        3,
        Policy());

    public static PromotionInput Promotion() => new("churn", "2.0.0", null, Policy());

    public static BatchInput Batch(int chunksPerRun = 10) => new("churn", "1.0.0", 7, null, 10, 2, chunksPerRun, Policy());
}
