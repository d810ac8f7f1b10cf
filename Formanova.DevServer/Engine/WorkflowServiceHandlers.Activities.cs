using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial class WorkflowServiceHandlers
{
    /// <summary>Pause, unpause and reset of a workflow's activities (operator RPCs of the workflow service).</summary>
    private void AddActivityOperationHandlers()
    {
        Add<PauseActivityRequest, PauseActivityResponse>("PauseActivity", (r, _) =>
        {
            _engine.PauseActivity(r);
            return new PauseActivityResponse();
        });
        Add<UnpauseActivityRequest, UnpauseActivityResponse>("UnpauseActivity", (r, _) =>
        {
            _engine.UnpauseActivity(r);
            return new UnpauseActivityResponse();
        });
        Add<ResetActivityRequest, ResetActivityResponse>("ResetActivity", (r, _) =>
        {
            _engine.ResetActivity(r);
            return new ResetActivityResponse();
        });
    }
}
