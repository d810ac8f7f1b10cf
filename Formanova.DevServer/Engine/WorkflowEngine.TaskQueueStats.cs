using Temporalio.Api.Enums.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial class WorkflowEngine
{
    /// <summary>
    /// Tasks queued on a task queue and not yet handed to a poller. Approximate in the way Temporal's own count
    /// is: a queued task whose activity was since cancelled or timed out is counted until a poller skips it.
    /// </summary>
    public long Backlog(string ns, string queue, TaskQueueType type) => type switch
    {
        TaskQueueType.Activity => _activities.Backlog(ns, queue),
        _ => _workflowQueues.TryGetValue((ns, queue), out var workflows) ? workflows.Backlog : 0,
    };
}
