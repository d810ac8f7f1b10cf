using Temporalio.Api.Enums.V1;
using Temporalio.Api.TaskQueue.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial class WorkflowServiceHandlers
{
    /// <summary>DescribeTaskQueue with the backlog count only: no pollers, versioning or rates are tracked.</summary>
    private void AddTaskQueueHandlers() =>
        Add<DescribeTaskQueueRequest, DescribeTaskQueueResponse>("DescribeTaskQueue", (r, _) =>
        {
            _engine.RequireNamespace(r.Namespace);
            if (string.IsNullOrEmpty(r.TaskQueue?.Name))
            {
                throw Errors.InvalidArgument("A task queue name is required.");
            }

            var type = r.TaskQueueType == TaskQueueType.Unspecified ? TaskQueueType.Workflow : r.TaskQueueType;
            var response = new DescribeTaskQueueResponse();
            if (r.ReportStats)
            {
                response.Stats = new TaskQueueStats { ApproximateBacklogCount = _engine.Backlog(r.Namespace, r.TaskQueue.Name, type) };
            }

            return response;
        });
}
