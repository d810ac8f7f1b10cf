using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Promotion;

/// <summary>
/// The seed's saga: check the version loads, warm it, switch the active version, smoke-test it, emit
/// MODEL_ACTIVATED. When a step fails, the compensations of the steps already done run in reverse order
/// (restore the previous active version, drop the warmed entries) and MODEL_PROMOTION_ROLLED_BACK is emitted.
/// </summary>
[Workflow]
public sealed class ModelPromotionSaga
{
    private readonly List<string> _completed = [];
    private readonly List<string> _compensated = [];
    private readonly List<ErrorRecord> _errors = [];
    private string _status = "running";
    private string? _stage;
    private string? _previous;
    private string? _error;

    [WorkflowQuery("get_saga_state")]
    public SagaState GetSagaState() => new(_status, _stage, _completed, _compensated, _previous, _error, _errors);

    [WorkflowRun]
    public async Task<SagaState> RunAsync(PromotionInput input)
    {
        var startedAt = Workflow.UtcNow;
        var policy = input.Policy;
        var target = new PromotionTarget(input.Model, input.Version);
        var compensations = new Stack<(string Name, Func<Task> Run)>();
        try
        {
            await StepAsync(
                "check_load",
                () => Workflow.ExecuteActivityAsync((PromotionActivities a) => a.CheckLoadAsync(target), policy.For("validate")));

            await StepAsync(
                "warm",
                () => Workflow.ExecuteActivityAsync((PromotionActivities a) => a.WarmAsync(target), policy.For("inference")));
            compensations.Push(("evict_warmed", () => Workflow.ExecuteActivityAsync(
                (PromotionActivities a) => a.EvictAsync(target),
                policy.For("persist", CancellationToken.None))));

            var switched = await StepAsync(
                "switch_active",
                () => Workflow.ExecuteActivityAsync((PromotionActivities a) => a.SwitchAsync(target), policy.For("persist")));
            _previous = switched.PreviousVersion;
            var restore = new RestoreInput(input.Model, input.Version, _previous);
            compensations.Push(("restore_previous", () => Workflow.ExecuteActivityAsync(
                (PromotionActivities a) => a.RestoreAsync(restore),
                policy.For("persist", CancellationToken.None))));

            var smoke = new SmokeInput(input.Model, input.Version, input.SmokeInputs);
            await StepAsync(
                "smoke_test",
                () => Workflow.ExecuteActivityAsync((PromotionActivities a) => a.SmokeTestAsync(smoke), policy.For("inference")));

            await StepAsync("emit_activated", () => Workflow.ExecuteActivityAsync(
                (PromotionActivities a) => a.EmitAsync(IEventModule.ModelActivated, target, $"previous {_previous ?? "none"}"), policy.For(
                    "emit")));

            _status = "completed";
            _stage = null;
            await WorkflowSteps.PersistAsync(
                policy,
                startedAt,
                ResultStatus.Succeeded,
                input.Model,
                input.Version,
                null,
                WorkflowJson.Element(GetSagaState()),
                null);
            return GetSagaState();
        }
        catch (Exception ex) when (ex is not ContinueAsNewException)
        {
            var cancelled = TemporalException.IsCanceledException(ex);
            _error = cancelled ? "The promotion was cancelled." : ActivityErrors.Describe(ex);
            _errors.Add(new ErrorRecord(
                Workflow.UtcNow,
                _stage ?? "start",
                cancelled ? "Cancelled" : ActivityErrors.TypeOf(ex),
                _error,
                Handled: false));
            _status = "compensating";
            while (compensations.TryPop(out var compensation))
            {
                _stage = compensation.Name;
                try
                {
                    await compensation.Run();
                    _compensated.Add(compensation.Name);
                }
                catch (ActivityFailureException failure)
                {
                    // Keep unwinding: a compensation that fails is recorded and the rest still run.
                    _errors.Add(new ErrorRecord(
                        Workflow.UtcNow,
                        compensation.Name,
                        ActivityErrors.TypeOf(failure),
                        ActivityErrors.Describe(failure),
                        Handled: false));
                }
            }

            _stage = "emit_rolled_back";
            await Workflow.ExecuteActivityAsync(
                (PromotionActivities a) => a.EmitAsync(IEventModule.ModelPromotionRolledBack, target, _error), policy.For(
                    "emit",
                    CancellationToken.None));
            _compensated.Add("emit_rolled_back");
            _status = cancelled ? "cancelled" : "rolled-back";
            _stage = null;
            await WorkflowSteps.PersistAsync(
                policy,
                startedAt,
                cancelled ? ResultStatus.Cancelled : ResultStatus.Failed,
                input.Model,
                input.Version,
                null,
                WorkflowJson.Element(GetSagaState()),
                _error);
            if (ex is FailureException || cancelled)
            {
                throw;
            }

            throw new ApplicationFailureException(_error, ActivityErrors.TypeOf(ex), nonRetryable: true);
        }
    }

    private async Task<T> StepAsync<T>(string name, Func<Task<T>> step)
    {
        _stage = name;
        var result = await step();
        _completed.Add(name);
        return result;
    }
}
