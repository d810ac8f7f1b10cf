using Formanova.DevServer.Schedules;
using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Schedule.V1;

namespace Formanova.DevServer.Engine;

/// <summary>
/// <c>cron_schedule</c> on a workflow start: the same cron strings as schedules (UTC unless <c>CRON_TZ=</c> says
/// otherwise). Each run's first workflow task waits for the next cron time after the run started.
/// </summary>
internal static class CronSchedules
{
    /// <summary>Throws InvalidArgument for a cron string that does not parse; returns it unchanged.</summary>
    public static string Validate(string cron)
    {
        if (!string.IsNullOrEmpty(cron))
        {
            _ = Compile(cron);
        }

        return cron;
    }

    /// <summary>The wait from <paramref name="now"/> to the next cron time, as Temporal's first_workflow_task_backoff.</summary>
    public static TimeSpan Backoff(string cron, DateTime now) =>
        Compile(cron).Next(now) is { } next ? next.Nominal - now : TimeSpan.Zero;

    /// <summary>A new cron workflow (not a run its chain created) waits for the first cron time.</summary>
    public static void DelayFirstRun(Temporalio.Api.History.V1.WorkflowExecutionStartedEventAttributes attributes, DateTime now)
    {
        if (!string.IsNullOrEmpty(attributes.CronSchedule) && string.IsNullOrEmpty(attributes.ContinuedExecutionRunId)
            && attributes.FirstWorkflowTaskBackoff is null)
        {
            attributes.FirstWorkflowTaskBackoff = Duration.FromTimeSpan(Backoff(attributes.CronSchedule, now));
        }
    }

    private static CompiledSpec Compile(string cron)
    {
        var spec = new ScheduleSpec();
        spec.CronString.Add(cron);
        return new CompiledSpec(spec, "cron");
    }
}
