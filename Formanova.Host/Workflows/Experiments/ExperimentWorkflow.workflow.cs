using Formanova.Modules.Event;
using Temporalio.Workflows;

namespace Formanova.Host.Workflows.Experiments;

/// <summary>
/// An experiment's life (docs/experiments.md, "The workflow"): a look every evaluation interval on a durable timer
/// (guards first, then the sequential test), canary steps on their own timer, signals applied to the store between
/// looks, and an end (decided, with the winner promoted through the promotion saga; rolled back; stopped).
/// </summary>
[Workflow]
public sealed partial class ExperimentWorkflow
{
    /// <summary>The looks the status query keeps (and a continued run carries).</summary>
    public const int HistoryCap = 20;

    /// <summary>Looks per run before it continues as new, which keeps each run's history short.</summary>
    public const int LooksPerRun = 100;

    private readonly Queue<Command> _commands = new();
    private ExperimentInput _input = null!;
    private ExperimentPlan _plan = null!;
    private Dictionary<string, double> _pValues = [];
    private List<ExperimentLook> _history = [];
    private int _looks;
    private int _canaryStep;
    private bool _paused;
    private string _state = "running";
    private string? _winner;
    private string? _reason;
    private string? _promotion;
    private string? _signalError;

    [WorkflowQuery("status")]
    public ExperimentState GetStatus() => new(
        _input?.Name ?? "", _state, _looks, _history.LastOrDefault(), _history, _pValues, _winner, _reason, _canaryStep, _promotion,
        _signalError);

    [WorkflowSignal("pause")]
    public Task PauseAsync(string? reason) => EnqueueAsync(new Command(CommandKind.Pause, reason, null));

    [WorkflowSignal("resume")]
    public Task ResumeAsync() => EnqueueAsync(new Command(CommandKind.Resume, null, null));

    [WorkflowSignal("stop")]
    public Task StopAsync(string? reason) => EnqueueAsync(new Command(CommandKind.Stop, reason, null));

    [WorkflowSignal("set_weights")]
    public Task SetWeightsAsync(Dictionary<string, double> weights) => EnqueueAsync(new Command(CommandKind.Weights, null, weights));

    [WorkflowRun]
    public async Task<ExperimentState> RunAsync(ExperimentInput input)
    {
        _input = input;
        Restore(input.Carry);
        _plan = await Step((ExperimentActivities a) => a.ReadAsync(input.Name));
        if (Ended(_plan.Status))
        {
            return GetStatus();
        }

        _paused = _plan.Status == "Paused";
        if (input.Carry is null)
        {
            await EmitAsync(IEventModule.ExperimentStarted, null, null);
            await CanaryStepAsync(0);
        }

        var interval = _plan.EvaluationInterval;
        var lookDue = Workflow.UtcNow + interval;
        var stepDue = _plan.CanaryStepInterval is { } every && _canaryStep + 1 < _plan.CanarySteps.Count
            ? Workflow.UtcNow + every
            : (DateTime?)null;
        var looksThisRun = 0;
        while (true)
        {
            var due = stepDue is { } s && s < lookDue ? s : lookDue;
            var wait = due - Workflow.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                await Workflow.WaitConditionAsync(() => _commands.Count > 0, wait);
            }

            while (_commands.TryDequeue(out var command))
            {
                if (await ApplyAsync(command))
                {
                    return GetStatus();
                }
            }

            var now = Workflow.UtcNow;
            if (now >= lookDue)
            {
                lookDue = now + interval;
                looksThisRun++;
                if ((!_paused && await LookAsync()) || await OutOfTimeAsync(now))
                {
                    return GetStatus();
                }
            }

            if (stepDue is { } step && now >= step)
            {
                stepDue = _canaryStep + 2 < _plan.CanarySteps.Count ? now + _plan.CanaryStepInterval!.Value : null;
                if (!_paused)
                {
                    await CanaryStepAsync(_canaryStep + 1);
                }
            }

            if (looksThisRun >= LooksPerRun && _commands.Count == 0)
            {
                var next = input with { Carry = new ExperimentCarry(_looks, _pValues, _history, _paused, _canaryStep) };
                throw Workflow.CreateContinueAsNewException((ExperimentWorkflow wf) => wf.RunAsync(next));
            }
        }
    }

    private void Restore(ExperimentCarry? carry)
    {
        if (carry is null)
        {
            return;
        }

        (_looks, _pValues, _history, _paused, _canaryStep) = (carry.Looks, carry.PValues, carry.History, carry.Paused, carry.CanaryStep);
        _state = _paused ? "paused" : "running";
    }

    private Task EnqueueAsync(Command command)
    {
        _commands.Enqueue(command);
        return Task.CompletedTask;
    }

    private enum CommandKind
    {
        Pause,
        Resume,
        Stop,
        Weights,
    }

    private sealed record Command(CommandKind Kind, string? Reason, Dictionary<string, double>? Weights);
}
