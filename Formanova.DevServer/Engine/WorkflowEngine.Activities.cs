using Temporalio.Api.Common.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial class WorkflowEngine
{
    public async Task<PollActivityTaskQueueResponse> PollActivityTaskQueueAsync(
        PollActivityTaskQueueRequest request,
        global::Grpc.Core.ServerCallContext context)
    {
        RequireNamespace(request.Namespace);
        if (string.IsNullOrEmpty(request.TaskQueue?.Name))
        {
            throw Errors.InvalidArgument("TaskQueue is not set on request.");
        }

        return await LongPollAsync(
            _activities.Queue(request.Namespace, request.TaskQueue.Name),
            context,
            item => _activities.TryStartActivity(item, request.Identity),
            request.WorkerInstanceKey);
    }

    /// <summary>Resolves a task token (or workflow/activity id) to a started attempt of a pending activity.</summary>
    public (WorkflowRun Run, long ScheduledId, int Attempt) ResolveActivityToken(Google.Protobuf.ByteString token, string ns)
    {
        var fields = ParseToken(token, 'a', 5);
        if (!string.IsNullOrEmpty(ns) && ns != fields[1])
        {
            throw Errors.InvalidArgument("Task token does not belong to the request namespace.");
        }

        return (RunFromToken(fields[1], fields[2]), ParseLong(fields[3]), (int)ParseLong(fields[4]));
    }

    public (WorkflowRun Run, long ScheduledId, int Attempt) ResolveActivityById(
        string ns,
        string workflowId,
        string runId,
        string activityId)
    {
        RequireNamespace(ns);
        if (string.IsNullOrEmpty(activityId))
        {
            throw Errors.InvalidArgument("ActivityId is not set on request.");
        }

        var run = FindRun(ns, new WorkflowExecution { WorkflowId = workflowId, RunId = runId });
        lock (run.Gate)
        {
            var activity = run.Activities.Values.FirstOrDefault(a => a.Attributes.ActivityId == activityId)
                ?? throw Errors.NotFound($"Activity {activityId} not found.");
            return (run, activity.ScheduledEventId, activity.Attempt);
        }
    }
}
