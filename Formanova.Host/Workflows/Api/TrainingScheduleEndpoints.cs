using System.Text.RegularExpressions;
using FluentValidation;
using Formanova.Host.Temporal;
using Formanova.Host.Workflows.Training;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Http.HttpResults;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Client.Schedules;
using Temporalio.Exceptions;

namespace Formanova.Host.Workflows.Api;

/// <summary>
/// When a training run repeats: a <see cref="Cron"/> expression or an <see cref="IntervalSeconds"/>, read in
/// <see cref="TimeZone"/> (an IANA name, UTC when absent), each firing moved by up to <see cref="JitterSeconds"/>.
/// <see cref="Paused"/> creates it paused, with <see cref="Note"/> saying why.
/// </summary>
internal sealed record TrainingScheduleSpec(
    string? Cron = null,
    double? IntervalSeconds = null,
    string? TimeZone = null,
    double? JitterSeconds = null,
    bool Paused = false,
    string? Note = null);

/// <summary>What a schedule keeps (its memo): the run it starts and the spec as it was given.</summary>
internal sealed record TrainingScheduleDefinition(
    string Model,
    int Major,
    long DatasetId,
    string Task,
    string? Trainer,
    TrainingScheduleSpec Spec);

/// <summary>One run a schedule started.</summary>
internal sealed record ScheduledRun(string RunId, DateTime ScheduledAt, DateTime StartedAt, string Location);

/// <summary>
/// A training schedule: what it starts (<see cref="Model"/> on <see cref="DatasetId"/>, each run's version
/// <c>{major}.{yyyyMMdd}.{HHmmss}</c> of its start in UTC), when (<see cref="Spec"/>, <see cref="NextRuns"/>), and what it
/// started (<see cref="Runs"/> in all, the latest in <see cref="RecentRuns"/>).
/// </summary>
internal sealed record TrainingScheduleView(
    string Id,
    string Model,
    string VersionSeries,
    long DatasetId,
    TrainingScheduleSpec Spec,
    bool Paused,
    string? Note,
    IReadOnlyList<DateTime> NextRuns,
    IReadOnlyList<ScheduledRun> RecentRuns,
    long Runs,
    DateTime? CreatedAt,
    string Location);

/// <summary>The training schedules, by id.</summary>
internal sealed record TrainingSchedulePage(IReadOnlyList<TrainingScheduleView> Items);

/// <summary>The optional body of pause and unpause: why, kept as the schedule's note.</summary>
internal sealed record ScheduleNoteBody(string? Note = null);

/// <summary>
/// Periodic retraining (docs/workflows.md, "Training schedules"): a Temporal schedule whose every firing starts a
/// ModelTrainingWorkflow with the settings it was created with, on the dataset as it is then (its latest schema
/// version and rows). Created by <c>POST /training-runs</c> with a <c>schedule</c>; managed here.
/// </summary>
internal static class TrainingScheduleEndpoints
{
    public const string IdPrefix = "training-schedule-";
    private const string MemoKey = "training";
    private const string ExampleId = "training-schedule-c9f0f895fb98ab9159f51fd0297e236d";
    private static readonly RequiredScopeMetadata AdminScope = new(ApiScopes.Admin);

    public static readonly TrainingScheduleView Example = new(
        ExampleId,
        "churn",
        "2.{yyyyMMdd}.{HHmmss}",
        7,
        new TrainingScheduleSpec(Cron: "0 3 * * 1", TimeZone: "Europe/Berlin", JitterSeconds: 600),
        false,
        null,
        [new DateTime(2026, 12, 14, 2, 4, 31, DateTimeKind.Utc)],
        [
            new ScheduledRun(
                "training-scheduled-c9f0f895fb98ab9159f51fd0297e236d-2026-12-07T02:00:00Z",
                new DateTime(2026, 12, 7, 2, 0, 0, DateTimeKind.Utc),
                new DateTime(2026, 12, 7, 2, 7, 12, DateTimeKind.Utc),
                "/api/v1/training-runs/training-scheduled-c9f0f895fb98ab9159f51fd0297e236d-2026-12-07T02:00:00Z"),
        ],
        1,
        new DateTime(2026, 11, 30, 16, 20, 0, DateTimeKind.Utc),
        $"/api/v1/training/schedules/{ExampleId}");

    public static IEndpointRouteBuilder MapTrainingScheduleEndpoints(this IEndpointRouteBuilder api)
    {
        var schedules = api.MapGroup("/training/schedules").WithTags("Training").WithMetadata(AdminScope);
        schedules.MapGet("/", ListAsync).WithName("ListTrainingSchedules")
            .WithSummary("List training schedules")
            .WithDescription("Every training schedule, by id, as `GET /training/schedules/{id}` shows it.")
            .WithResponseExample(new TrainingSchedulePage([Example]));
        schedules.MapGet("/{id}", async (string id, WorkflowGateway gateway, CancellationToken ct) =>
                TypedResults.Ok(await ViewAsync(gateway, id, ct)))
            .WithName("GetTrainingSchedule")
            .WithSummary("Get a training schedule")
            .WithDescription(
                "The schedule's spec as it was given, whether it is paused (and its note), the next firings, how many "
                + "runs it started and the latest of them with their paths. 404 when no training schedule has this id.")
            .WithResponseExample(Example);
        schedules.MapPost("/{id}/pause", async (string id, ScheduleNoteBody? body, WorkflowGateway gateway, CancellationToken ct) =>
                TypedResults.Ok(await ChangeAsync(
                    gateway, id, (h, rpc) => h.PauseAsync(body?.Note ?? "Paused through the API.", rpc), ct)))
            .WithName("PauseTrainingSchedule")
            .WithSummary("Pause a training schedule")
            .WithDescription("No firing starts a run until it is unpaused; a run already started goes on. The optional "
                + "`note` (at most 500 characters) says why. Answers 200 with the schedule.")
            .WithRequestExample(new ScheduleNoteBody("Dataset migration until Friday."))
            .WithResponseExample(Example with { Paused = true, Note = "Dataset migration until Friday.", NextRuns = [] });
        schedules.MapPost("/{id}/unpause", async (string id, ScheduleNoteBody? body, WorkflowGateway gateway, CancellationToken ct) =>
                TypedResults.Ok(await ChangeAsync(
                    gateway, id, (h, rpc) => h.UnpauseAsync(body?.Note ?? "Unpaused through the API.", rpc), ct)))
            .WithName("UnpauseTrainingSchedule")
            .WithSummary("Unpause a training schedule")
            .WithDescription("Firings start runs again from the next due time on; those missed while paused are not made "
                + "up. Answers 200 with the schedule.")
            .WithResponseExample(Example);
        schedules.MapPost("/{id}/trigger", async (string id, WorkflowGateway gateway, CancellationToken ct) =>
            {
                var view = await ChangeAsync(gateway, id, (h, rpc) => h.TriggerAsync(new ScheduleTriggerOptions { Rpc = rpc }), ct);
                return TypedResults.Accepted(view.Location, view);
            })
            .WithName("TriggerTrainingSchedule")
            .WithSummary("Start a scheduled training run now")
            .WithDescription(
                "Starts one run now with the schedule's settings, paused or not, unless one of its runs is still running "
                + "(the schedule never runs two at once). Answers 202 with the schedule; the run shows in its "
                + "`recentRuns` once started.")
            .WithResponseExample(Example, StatusCodes.Status202Accepted);
        schedules.MapDelete("/{id}", async (string id, WorkflowGateway gateway, CancellationToken ct) =>
        {
            await CallAsync(gateway, id, (h, rpc) => h.DeleteAsync(rpc), ct);
            return TypedResults.NoContent();
        }).WithName("DeleteTrainingSchedule")
            .WithSummary("Delete a training schedule")
            .WithDescription("No more firings; the runs it started, and a run still running, are kept. Answers 204.");
        return api;
    }

    /// <summary>Creates the schedule POST /training-runs asks for, and answers 201 with it.</summary>
    public static async Task<Created<TrainingScheduleView>> CreateAsync(
        TrainingRunBody body,
        TrainingRunInput input,
        HttpContext http,
        WorkflowGateway gateway,
        TemporalOptions temporal,
        CancellationToken ct)
    {
        var id = await gateway.StartIdAsync(IdPrefix.TrimEnd('-'), http, WorkflowGateway.HashOf(body), ct);
        var spec = body.Schedule!;
        var definition = new TrainingScheduleDefinition(
            body.Model!, TrainingVersions.Major(body.Version!), body.DatasetId!.Value, input.Task.ToString(), body.Trainer, spec);
        var run = input with { ScheduledMajor = definition.Major };
        var action = ScheduleActionStartWorkflow.Create<ModelTrainingWorkflow, TrainingRunResult>(
            wf => wf.RunAsync(run),
            new WorkflowOptions($"training-scheduled-{id[IdPrefix.Length..]}", temporal.TaskQueue));
        var schedule = new Schedule(action, Spec(spec))
        {
            // One run at a time: a firing while the last run still trains is skipped, not queued.
            Policy = new SchedulePolicy { Overlap = ScheduleOverlapPolicy.Skip },
            State = new ScheduleState { Paused = spec.Paused, Note = spec.Note },
        };
        try
        {
            await gateway.Client.CreateScheduleAsync(id, schedule, new ScheduleOptions
            {
                Memo = new Dictionary<string, object> { [MemoKey] = definition },
                Rpc = gateway.Rpc(ct),
            });
        }
        catch (ScheduleAlreadyRunningException)
        {
            // A repeat with the same Idempotency-Key: the schedule it created stands.
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.InvalidArgument)
        {
            var field = spec.Cron is null ? "schedule" : "schedule.cron";
            throw ModuleException.Invalid(field, $"Temporal refused the schedule: {ex.Message}");
        }

        var view = await ViewAsync(gateway, id, ct);
        return TypedResults.Created(view.Location, view);
    }

    private static ScheduleSpec Spec(TrainingScheduleSpec spec) => new()
    {
        CronExpressions = spec.Cron is { } cron ? [cron.Trim()] : [],
        Intervals = spec.IntervalSeconds is { } every ? [new ScheduleIntervalSpec(TimeSpan.FromSeconds(every))] : [],
        TimeZoneName = spec.TimeZone,
        Jitter = spec.JitterSeconds is { } jitter ? TimeSpan.FromSeconds(jitter) : null,
    };

    private static async Task<Ok<TrainingSchedulePage>> ListAsync(WorkflowGateway gateway, CancellationToken ct)
    {
        var ids = new List<string>();
        var listing = gateway.Client.ListSchedulesAsync(new ScheduleListOptions { Rpc = gateway.Rpc(ct) });
        await foreach (var listed in listing.WithCancellation(ct))
        {
            if (listed.Id.StartsWith(IdPrefix, StringComparison.Ordinal))
            {
                ids.Add(listed.Id);
            }
        }

        var items = new List<TrainingScheduleView>();
        foreach (var id in ids.Order(StringComparer.Ordinal))
        {
            try
            {
                items.Add(await ViewAsync(gateway, id, ct));
            }
            catch (ModuleException ex) when (ex.Kind == ErrorKind.NotFound)
            {
                // Deleted since it was listed.
            }
        }

        return TypedResults.Ok(new TrainingSchedulePage(items));
    }

    /// <summary>A change of a training schedule, and the schedule after it.</summary>
    private static async Task<TrainingScheduleView> ChangeAsync(
        WorkflowGateway gateway,
        string id,
        Func<ScheduleHandle, RpcOptions, Task> change,
        CancellationToken ct)
    {
        await CallAsync(gateway, id, change, ct);
        return await ViewAsync(gateway, id, ct);
    }

    /// <summary>A call on a training schedule; an id that is not one is a 404.</summary>
    private static async Task CallAsync(
        WorkflowGateway gateway,
        string id,
        Func<ScheduleHandle, RpcOptions, Task> call,
        CancellationToken ct)
    {
        if (!id.StartsWith(IdPrefix, StringComparison.Ordinal))
        {
            throw ModuleException.NotFound("Training schedule", id);
        }

        try
        {
            await call(gateway.Client.GetScheduleHandle(id), gateway.Rpc(ct));
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.NotFound)
        {
            throw ModuleException.NotFound("Training schedule", id);
        }
    }

    private static async Task<TrainingScheduleView> ViewAsync(WorkflowGateway gateway, string id, CancellationToken ct)
    {
        ScheduleDescription description = null!;
        await CallAsync(gateway, id, async (h, rpc) => description = await h.DescribeAsync(rpc), ct);
        if (!description.Memo.TryGetValue(MemoKey, out var memo))
        {
            throw ModuleException.NotFound("Training schedule", id);
        }

        var definition = await memo.ToValueAsync<TrainingScheduleDefinition>();
        var info = description.Info;
        var recent = info.RecentActions
            .Select(a => (Result: a, Run: a.Action as ScheduleActionExecutionStartWorkflow))
            .Where(a => a.Run is not null)
            .Select(a => new ScheduledRun(
                a.Run!.WorkflowId, a.Result.ScheduledAt, a.Result.StartedAt, $"/api/v1/training-runs/{a.Run.WorkflowId}"))
            .ToList();
        return new TrainingScheduleView(
            id,
            definition.Model,
            $"{definition.Major}.{{yyyyMMdd}}.{{HHmmss}}",
            definition.DatasetId,
            definition.Spec,
            description.Schedule.State.Paused,
            description.Schedule.State.Note is { Length: > 0 } note ? note : null,
            info.NextActionTimes.ToList(),
            recent,
            info.NumActions,
            info.CreatedAt,
            $"/api/v1/training/schedules/{id}");
    }
}

/// <summary>A schedule's spec: one of cron or interval, a time zone the host knows, bounded jitter and note.</summary>
internal sealed partial class TrainingScheduleSpecValidator : AbstractValidator<TrainingScheduleSpec>
{
    public const double MaxIntervalSeconds = 366 * 86400;

    public TrainingScheduleSpecValidator()
    {
        RuleFor(s => s.Cron).Must((s, cron) => (cron is null) != (s.IntervalSeconds is null))
            .WithMessage("Give either cron or intervalSeconds.");
        RuleFor(s => s.Cron).Must(cron => cron is null || CronShape().IsMatch(cron.Trim()))
            .WithMessage("cron must have 5 fields (minute hour day-of-month month day-of-week), e.g. \"0 3 * * 1\", or be @hourly, "
                + "@daily, @weekly or @monthly.");
        RuleFor(s => s.IntervalSeconds).Must(i => i is null or (>= 1 and <= MaxIntervalSeconds))
            .WithMessage($"intervalSeconds must be between 1 and {MaxIntervalSeconds} (366 days).");
        RuleFor(s => s.TimeZone).Must(tz => tz is null || TimeZoneInfo.TryFindSystemTimeZoneById(tz, out _))
            .WithMessage("timeZone must be an IANA time zone name such as Europe/Berlin.");
        RuleFor(s => s.JitterSeconds).Must(j => j is null or (>= 0 and <= 86400))
            .WithMessage("jitterSeconds must be between 0 and 86400.");
        RuleFor(s => s.Note).MaximumLength(500).WithMessage("note must be at most 500 characters.");
    }

    [GeneratedRegex(@"^(@(hourly|daily|weekly|monthly|yearly)|\S+(\s+\S+){4})$")]
    private static partial Regex CronShape();
}

internal sealed class ScheduleNoteBodyValidator : AbstractValidator<ScheduleNoteBody>
{
    public ScheduleNoteBodyValidator() => RuleFor(b => b.Note).MaximumLength(500).WithMessage("note must be at most 500 characters.");
}
