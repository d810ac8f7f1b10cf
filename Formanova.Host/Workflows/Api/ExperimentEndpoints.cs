using FluentValidation;
using Formanova.Host.Workflows.Experiments;
using Formanova.Modules.Model;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Formanova.Host.Workflows.Api;

/// <summary>An experiment as stored, its workflow's id, and the workflow's last look while it runs.</summary>
internal sealed record ExperimentView(ExperimentInfo Experiment, string WorkflowId, ExperimentState? Live);

internal sealed record ExperimentReasonBody(string? Reason = null);

internal sealed record ExperimentWeightsBody(Dictionary<string, double> Weights);

internal sealed record ExperimentSignalled(string Name, string Signal, string Location);

internal static class ExperimentEndpoints
{
    /// <summary>Why an experiment whose workflow could not start was stopped (here, or by a monitoring rollout).</summary>
    public const string UnstartedReason = "its workflow could not start";

    public static IEndpointRouteBuilder MapExperimentEndpoints(this IEndpointRouteBuilder api)
    {
        var group = api.MapGroup("/experiments").WithTags("Experiments");
        group.MapPost("", CreateAsync).WithName("CreateExperiment")
            .WithMetadata(new RequiredScopeMetadata(ApiScopes.Admin))
            .WithSummary("Start an experiment")
            .WithDescription(
                "Stores the experiment (its arms pinned to versions of `model`; the first arm is the control) and starts its "
                + "**ExperimentWorkflow** (`experiment-{name}`), which looks at the arms' live outcomes every "
                + "`evaluationInterval` (`hh:mm:ss`): guards first (a candidate's error rate, fallback rate, p95 latency), "
                + "then a mixture sequential test on `primaryMetric`; a winning candidate is promoted through the promotion "
                + "saga when `autoPromote` (docs/experiments.md). Answers **201** with the experiment; 400 names the field; "
                + "409 when the name exists or the model already has a running or paused experiment.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("", ListAsync).WithName("ListExperiments")
            .WithSummary("List experiments")
            .WithDescription("Experiments, newest first; `model` keeps those of one model.");
        group.MapGet("/{name}", GetAsync).WithName("GetExperiment")
            .WithSummary("Get an experiment")
            .WithDescription(
                "The stored experiment and, while its workflow runs, the workflow's status: the looks taken, the last one "
                + "(per arm: predictions, with feedback, error and fallback rates, p95 latency, the metric with a 95 % "
                + "interval; per candidate: the difference, the always-valid p-value and confidence sequence), the history "
                + "of the latest looks and the decision state. 404 for an unknown experiment.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        MapSignal(group, "pause", "PauseExperiment", "Pause an experiment", "Every request goes to the control until resumed.");
        MapSignal(group, "resume", "ResumeExperiment", "Resume an experiment", "Traffic is split by the arms' weights again.");
        MapSignal(group, "stop", "StopExperiment", "Stop an experiment", "Ends it without a winner (status `stopped`).");
        group.MapPut("/{name}/weights", SetWeightsAsync).WithName("SetExperimentWeights")
            .WithMetadata(new RequiredScopeMetadata(ApiScopes.Admin))
            .WithSummary("Set an experiment's arm weights")
            .WithDescription(
                "Signals the workflow to set the named arms' weights (the others keep theirs). 400 names `weights.{arm}` "
                + "for an arm the experiment does not have or a negative weight; 409 when the experiment has ended.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return api;
    }

    private static void MapSignal(RouteGroupBuilder group, string signal, string name, string summary, string effect) =>
        group.MapPost(
                $"/{{name}}/{signal}",
                (string name, ExperimentReasonBody? body, WorkflowGateway gateway, IExperimentModule experiments, CancellationToken ct) =>
                    SignalAsync(name, signal, body?.Reason, gateway, experiments, ct))
            .WithName(name)
            .WithMetadata(new RequiredScopeMetadata(ApiScopes.Admin))
            .WithSummary(summary)
            .WithDescription(
                $"Signals the experiment's workflow, which applies it to the store between looks. {effect} Answers **202**; "
                + "`reason` (optional) is stored with a pause or stop. 404 for an unknown experiment, 409 when it has ended.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

    public static string WorkflowId(string name) => $"experiment-{name}";

    private static async Task<Created<ExperimentInfo>> CreateAsync(
        CreateExperimentRequest body,
        WorkflowGateway gateway,
        IExperimentModule experiments,
        CancellationToken ct)
    {
        var experiment = await experiments.CreateAsync(body, ct);
        var input = new ExperimentInput(experiment.Name, gateway.Policy());
        try
        {
            await gateway.StartAsync<ExperimentWorkflow, ExperimentState>(WorkflowId(experiment.Name), wf => wf.RunAsync(input), ct);
        }
        catch
        {
            // Without its workflow nothing would ever decide or end it, yet it would route traffic and block the model's
            // next experiment: end it before the failure reaches the caller (a 503 when Temporal is down).
            await experiments.SetStatusAsync(
                experiment.Name,
                ExperimentStatus.Stopped,
                reason: UnstartedReason,
                cancellationToken: CancellationToken.None);
            throw;
        }

        return TypedResults.Created($"/api/v1/experiments/{experiment.Name}", experiment);
    }

    private static async Task<Ok<IReadOnlyList<ExperimentInfo>>> ListAsync(
        string? model,
        IExperimentModule experiments,
        CancellationToken ct) =>
        TypedResults.Ok(await experiments.ListAsync(model, ct));

    private static async Task<Ok<ExperimentView>> GetAsync(
        string name,
        WorkflowGateway gateway,
        IExperimentModule experiments,
        CancellationToken ct)
    {
        var experiment = await experiments.GetAsync(name, ct);
        var id = WorkflowId(experiment.Name);
        var live = await gateway.TryQueryAsync<ExperimentWorkflow, ExperimentState>(id, wf => wf.GetStatus(), ct);
        return TypedResults.Ok(new ExperimentView(experiment, id, live));
    }

    private static async Task<Accepted<ExperimentSignalled>> SignalAsync(
        string name,
        string signal,
        string? reason,
        WorkflowGateway gateway,
        IExperimentModule experiments,
        CancellationToken ct)
    {
        var experiment = await experiments.GetAsync(name, ct);
        var id = WorkflowId(experiment.Name);
        await (signal switch
        {
            "pause" => gateway.SignalAsync<ExperimentWorkflow>(id, wf => wf.PauseAsync(reason), ct),
            "resume" => gateway.SignalAsync<ExperimentWorkflow>(id, wf => wf.ResumeAsync(), ct),
            _ => gateway.SignalAsync<ExperimentWorkflow>(id, wf => wf.StopAsync(reason), ct),
        });
        var location = $"/api/v1/experiments/{experiment.Name}";
        return TypedResults.Accepted(location, new ExperimentSignalled(experiment.Name, signal, location));
    }

    private static async Task<Accepted<ExperimentSignalled>> SetWeightsAsync(
        string name,
        ExperimentWeightsBody body,
        WorkflowGateway gateway,
        IExperimentModule experiments,
        CancellationToken ct)
    {
        var experiment = await experiments.GetAsync(name, ct);
        if (body.Weights.Keys.FirstOrDefault(arm => experiment.Arms.All(a => a.Name != arm)) is { } unknown)
        {
            var arms = string.Join(", ", experiment.Arms.Select(a => a.Name));
            throw ModuleException.Invalid($"weights.{unknown}", $"The experiment has no arm '{unknown}'; its arms are {arms}.");
        }

        var id = WorkflowId(experiment.Name);
        var weights = body.Weights;
        await gateway.SignalAsync<ExperimentWorkflow>(id, wf => wf.SetWeightsAsync(weights), ct);
        var location = $"/api/v1/experiments/{experiment.Name}";
        return TypedResults.Accepted(location, new ExperimentSignalled(experiment.Name, "set_weights", location));
    }
}

internal sealed class CreateExperimentValidator : AbstractValidator<CreateExperimentRequest>
{
    public CreateExperimentValidator()
    {
        RuleFor(b => b.Name).NotEmpty();
        RuleFor(b => b.Model).NotEmpty();
        RuleFor(b => b.Arms).NotEmpty().WithMessage("An experiment needs a control arm and at least one candidate.");
        RuleForEach(b => b.Arms).ChildRules(arm =>
        {
            arm.RuleFor(a => a.Name).NotEmpty();
            arm.RuleFor(a => a.Weight).Must(w => double.IsFinite(w) && w >= 0).WithMessage("A weight is a finite number, 0 or more.");
        });
    }
}

internal sealed class ExperimentWeightsValidator : AbstractValidator<ExperimentWeightsBody>
{
    public ExperimentWeightsValidator()
    {
        RuleFor(b => b.Weights).NotEmpty().WithMessage("Give at least one arm's weight.");
        RuleForEach(b => b.Weights).Must(w => double.IsFinite(w.Value) && w.Value >= 0)
            .WithMessage("A weight is a finite number, 0 or more.");
    }
}
