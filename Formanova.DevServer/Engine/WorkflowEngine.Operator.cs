using Temporalio.Api.Command.V1;
using Temporalio.Api.Enums.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial class WorkflowEngine
{
    /// <summary>The registered search attributes per namespace (operator service), durable in the store.</summary>
    public SearchAttributeRegistry SearchAttributes { get; }

    /// <summary>Nexus endpoint records (operator service), durable in the store; no Nexus task is dispatched.</summary>
    public NexusEndpointRegistry NexusEndpoints { get; }

    /// <summary>
    /// Search attributes in commands are checked like a start's: an unregistered name or a value of the wrong type
    /// fails the workflow task with BadSearchAttributes before anything is applied, as on Temporal.
    /// </summary>
    private (WorkflowTaskFailedCause Cause, string Message)? ValidateSearchAttributes(WorkflowRun run, IEnumerable<Command> commands)
    {
        foreach (var command in commands)
        {
            var (ns, attributes) = command.CommandType switch
            {
                CommandType.UpsertWorkflowSearchAttributes =>
                    (run.Namespace, command.UpsertWorkflowSearchAttributesCommandAttributes?.SearchAttributes),
                CommandType.ContinueAsNewWorkflowExecution =>
                    (run.Namespace, command.ContinueAsNewWorkflowExecutionCommandAttributes?.SearchAttributes),
                CommandType.StartChildWorkflowExecution => (
                    string.IsNullOrEmpty(command.StartChildWorkflowExecutionCommandAttributes?.Namespace)
                        ? run.Namespace
                        : command.StartChildWorkflowExecutionCommandAttributes.Namespace,
                    command.StartChildWorkflowExecutionCommandAttributes?.SearchAttributes),
                _ => (run.Namespace, null),
            };
            if (SearchAttributes.Validate(ns, attributes) is { } message)
            {
                return (WorkflowTaskFailedCause.BadSearchAttributes, message);
            }
        }

        return null;
    }
}
