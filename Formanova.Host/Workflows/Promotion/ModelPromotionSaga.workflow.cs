using System.Linq.Expressions;
using Formanova.Host.Workflows.Common;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Promotion;

/// <summary>
/// The promotion saga (docs/workflows.md, "ModelPromotionSaga"): check the version loads, warm it, switch the active
/// version, smoke-test it, emit MODEL_ACTIVATED. When a step fails, the compensations of the steps already done run
/// in reverse order (restore the previous active version, drop the warmed entries) and MODEL_PROMOTION_ROLLED_BACK
/// is emitted.
/// </summary>
[Workflow]
public sealed class ModelPromotionSaga
{
    private readonly List<string> _completed = [];
    private readonly List<string> _compensated = [];
    private readonly List<ErrorRecord> _errors = [];
    private readonly Stack<(string Name, Func<Task> Run)> _compensations = new();
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
        try
        {
            await StepAsync("check_load", a => a.CheckLoadAsync(target), policy.For(t => t.Validate));

            await StepAsync("warm", a => a.WarmAsync(target), policy.For(t => t.Inference));
            Compensate("evict_warmed", a => a.EvictAsync(target), policy);

            var switched = await StepAsync("switch_active", a => a.SwitchAsync(target), policy.For(t => t.Persist));
            _previous = switched.PreviousVersion;
            var restore = new RestoreInput(input.Model, input.Version, _previous);
            Compensate("restore_previous", a => a.RestoreAsync(restore), policy);

            var smoke = new SmokeInput(input.Model, input.Version, input.SmokeInputs);
            await StepAsync("smoke_test", a => a.SmokeTestAsync(smoke), policy.For(t => t.Inference));

            var detail = $"previous {_previous ?? "none"}";
            await StepAsync("emit_activated", a => a.EmitAsync(IEventModule.ModelActivated, target, detail), policy.For(t => t.Emit));

            _status = "completed";
            _stage = null;
            var state = WorkflowJson.Element(GetSagaState());
            await WorkflowSteps.PersistAsync(policy, startedAt, ResultStatus.Succeeded, input.Model, input.Version, null, state, null);
            return GetSagaState();
        }
        catch (Exception ex) when (RunFailure.ClosesRun(ex))
        {
            var failure = RunFailure.Of(ex, _stage ?? "start", "The promotion was cancelled.");
            _error = failure.Error.Message;
            _errors.Add(failure.Error);
            _status = "compensating";
            await CompensateAllAsync();

            _stage = "emit_rolled_back";
            await Workflow.ExecuteActivityAsync(
                (PromotionActivities a) => a.EmitAsync(IEventModule.ModelPromotionRolledBack, target, _error),
                policy.For(t => t.Emit, CancellationToken.None));
            _compensated.Add("emit_rolled_back");
            _status = failure.Cancelled ? "cancelled" : "rolled-back";
            _stage = null;
            var state = WorkflowJson.Element(GetSagaState());
            await WorkflowSteps.PersistAsync(policy, startedAt, failure.Status, input.Model, input.Version, null, state, _error);
            throw;
        }
    }

    private async Task<T> StepAsync<T>(
        string name,
        Expression<Func<PromotionActivities, Task<T>>> step,
        ActivityOptions options)
    {
        _stage = name;
        var result = await Workflow.ExecuteActivityAsync(step, options);
        _completed.Add(name);
        return result;
    }

    /// <summary>Pushes the undo of a step just done; it runs on a token of its own, so it runs when the saga is cancelled too.</summary>
    private void Compensate<T>(
        string name,
        Expression<Func<PromotionActivities, Task<T>>> undo,
        StepPolicy policy) =>
        _compensations.Push((name, () => Workflow.ExecuteActivityAsync(undo, policy.For(t => t.Persist, CancellationToken.None))));

    private async Task CompensateAllAsync()
    {
        while (_compensations.TryPop(out var compensation))
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
    }
}
