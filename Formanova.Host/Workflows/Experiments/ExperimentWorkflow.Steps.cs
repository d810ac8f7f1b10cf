using System.Linq.Expressions;
using Formanova.Host.Workflows.Common;
using Formanova.Host.Workflows.Promotion;
using Formanova.Modules.Event;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Experiments;

/// <summary>The experiment workflow's looks, decisions, canary steps and signals (deterministic: workflow code).</summary>
public sealed partial class ExperimentWorkflow
{
    private static readonly string[] Finals = ["Decided", "RolledBack", "Stopped"];

    /// <summary>Takes a look and acts on its verdict; true when the experiment has ended.</summary>
    private async Task<bool> LookAsync()
    {
        var look = await Step((ExperimentActivities a) => a.EvaluateAsync(new EvaluateInput(_input.Name, _pValues)));
        _looks++;
        _history.Add(look);
        if (_history.Count > HistoryCap)
        {
            _history.RemoveAt(0);
        }

        foreach (var candidate in look.Candidates.Where(c => c.Comparison is not null))
        {
            _pValues[candidate.Arm] = candidate.Comparison!.PValue;
        }

        if (Ended(look.Status))
        {
            return true;
        }

        switch (look.Verdict)
        {
            case LookVerdict.GuardBreached:
                var off = new Dictionary<string, double> { [look.Arm!] = 0 };
                await Step((ExperimentActivities a) => a.SetWeightsAsync(_input.Name, off));
                await EndAsync("RolledBack", null, look.Reason, IEventModule.ExperimentRolledBack);
                return true;
            case LookVerdict.CandidateWins:
                var reason = await PromoteAsync(look.Arm!, look.Reason);
                await EndAsync("Decided", look.Arm, reason, IEventModule.ExperimentDecided);
                return true;
            case LookVerdict.ControlWins:
                await EndAsync("Decided", look.Arm, look.Reason, IEventModule.ExperimentDecided);
                return true;
            default:
                return false;
        }
    }

    /// <summary>With auto-promotion the winner goes through the promotion saga; its failure is reported, not thrown.</summary>
    private async Task<string?> PromoteAsync(string arm, string? reason)
    {
        if (!_plan.AutoPromote)
        {
            return reason;
        }

        _state = "promoting";
        var input = new PromotionInput(_plan.Model, _plan.Versions[arm], null, _input.Policy);
        try
        {
            await Workflow.ExecuteChildWorkflowAsync(
                (ModelPromotionSaga wf) => wf.RunAsync(input),
                new ChildWorkflowOptions { Id = $"promotion-{Workflow.Info.WorkflowId}" });
            _promotion = $"promoted {_plan.Versions[arm]}";
        }
        catch (ChildWorkflowFailureException failure)
        {
            _promotion = $"promotion failed: {ActivityErrors.Describe(failure.InnerException ?? failure)}";
        }

        return $"{reason}; {_promotion}";
    }

    private async Task<bool> OutOfTimeAsync(DateTime now)
    {
        if (_plan.MaxDuration is not { } max || now < _plan.CreatedAt.UtcDateTime + max)
        {
            return false;
        }

        await EndAsync("Stopped", null, $"no winner within the maximum duration of {max}", IEventModule.ExperimentStopped);
        return true;
    }

    /// <summary>Applies a signal to the store; true when it ended the experiment. A refused change is reported, not fatal.</summary>
    private async Task<bool> ApplyAsync(Command command)
    {
        try
        {
            switch (command.Kind)
            {
                case CommandKind.Stop:
                    await EndAsync("Stopped", null, command.Reason ?? "stopped by request", IEventModule.ExperimentStopped);
                    return true;
                case CommandKind.Pause when !_paused:
                    await Step((ExperimentActivities a) => a.SetStatusAsync(new StatusChange(_input.Name, "Paused", null, command.Reason)));
                    (_paused, _state) = (true, "paused");
                    break;
                case CommandKind.Resume when _paused:
                    await Step((ExperimentActivities a) => a.SetStatusAsync(new StatusChange(_input.Name, "Running", null, null)));
                    (_paused, _state) = (false, "running");
                    break;
                case CommandKind.Weights:
                    await Step((ExperimentActivities a) => a.SetWeightsAsync(_input.Name, command.Weights!));
                    break;
                default:
                    break;
            }
        }
        catch (ActivityFailureException failure)
        {
            _signalError = $"{command.Kind}: {ActivityErrors.Describe(failure)}";
        }

        return false;
    }

    /// <summary>Sets the candidate's share to the canary's step <paramref name="index"/> (a split of one candidate).</summary>
    private async Task CanaryStepAsync(int index)
    {
        if (index >= _plan.CanarySteps.Count || _plan.Candidates.Count == 0)
        {
            return;
        }

        var share = _plan.CanarySteps[index];
        var weights = new Dictionary<string, double> { [_plan.Control] = 1 - share };
        foreach (var candidate in _plan.Candidates)
        {
            weights[candidate] = share / _plan.Candidates.Count;
        }

        await Step((ExperimentActivities a) => a.SetWeightsAsync(_input.Name, weights));
        _canaryStep = index;
    }

    private async Task EndAsync(string status, string? winner, string? reason, string eventType)
    {
        await Step((ExperimentActivities a) => a.SetStatusAsync(new StatusChange(_input.Name, status, winner, reason)));
        (_state, _winner, _reason) = (char.ToLowerInvariant(status[0]) + status[1..], winner, reason);
        await EmitAsync(eventType, winner, reason);
    }

    private Task<long> EmitAsync(string type, string? winner, string? reason) =>
        Step((ExperimentActivities a) => a.EmitAsync(new ExperimentEvent(type, _input.Name, _plan.Model, winner, reason)));

    /// <summary>Whether the stored status is final; the run then ends with it (another path ended the experiment).</summary>
    private bool Ended(string status)
    {
        if (!Finals.Contains(status))
        {
            return false;
        }

        _state = char.ToLowerInvariant(status[0]) + status[1..];
        return true;
    }

    private Task<T> Step<T>(Expression<Func<ExperimentActivities, Task<T>>> step) =>
        Workflow.ExecuteActivityAsync(step, _input.Policy.For(t => t.Persist));
}
