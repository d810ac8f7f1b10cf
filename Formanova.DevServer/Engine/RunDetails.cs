using Google.Protobuf;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Deployment.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;
using Temporalio.Api.Sdk.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

/// <summary>
/// What a run carries besides its state machine: memo upserts, the root of its child chain, user metadata and
/// priority, and how DescribeWorkflowExecution reports them.
/// </summary>
internal static class RunDetails
{
    private static readonly ByteString NullEncoding = ByteString.CopyFromUtf8("binary/null");

    /// <summary>
    /// Merges an upsert into the memo. As on Temporal, a key upserted with an empty or null payload is removed
    /// (MemoUpdate.ValueUnset, or a value set to null).
    /// </summary>
    public static void UpsertMemo(Memo memo, Memo upserted)
    {
        foreach (var (key, value) in upserted.Fields)
        {
            if (IsNull(value))
            {
                memo.Fields.Remove(key);
            }
            else
            {
                memo.Fields[key] = value;
            }
        }
    }

    private static bool IsNull(Payload? payload) =>
        payload is null || payload.CalculateSize() == 0
        || (payload.Data.IsEmpty && payload.Metadata.TryGetValue("encoding", out var encoding) && encoding.Equals(NullEncoding));

    /// <summary>
    /// The root of a run's child chain: the started event carries it only for children (as Temporal's does);
    /// a run without a parent is its own root, also after continue-as-new.
    /// </summary>
    public static WorkflowExecution RootOf(WorkflowRun run) => run.Start.RootWorkflowExecution ?? run.Execution;

    /// <summary>Fills what a child's started event inherits from its parent: the parent's namespace id and root.</summary>
    public static void InheritFromParent(WorkflowExecutionStartedEventAttributes child, WorkflowRun parent, string parentNamespaceId)
    {
        child.ParentWorkflowNamespaceId = parentNamespaceId;
        child.RootWorkflowExecution = RootOf(parent);
    }

    /// <summary>The describe fields the base view leaves out; called under the run's lock.</summary>
    public static void Describe(WorkflowRun run, DescribeWorkflowExecutionResponse response)
    {
        var info = response.WorkflowExecutionInfo;
        info.RootExecution = RootOf(run);
        info.Priority = run.Start.Priority;
        if (run.Start.ParentWorkflowExecution is not null)
        {
            info.ParentNamespaceId = run.Start.ParentWorkflowNamespaceId;
        }

        if (run.FirstEvent?.UserMetadata is { } metadata)
        {
            response.ExecutionConfig.UserMetadata = metadata;
        }
    }

    /// <summary>A child's started event repeats the user metadata of the parent's initiated event, as Temporal's does.</summary>
    public static UserMetadata? InitiatedMetadata(WorkflowRun parent, long initiatedId)
    {
        lock (parent.Gate)
        {
            return initiatedId >= 1 && initiatedId <= parent.HistoryCount ? parent.History[(int)initiatedId - 1].UserMetadata : null;
        }
    }
}

/// <summary>Start options carried besides the started event's attributes.</summary>
internal sealed partial record StartParams
{
    /// <summary>Static summary and details: on the WorkflowExecutionStarted event, not in its attributes.</summary>
    public UserMetadata? UserMetadata { get; init; }

    public StartParams WithDetails(UserMetadata? metadata, Priority? priority)
    {
        Attributes.Priority = priority;
        return this with { UserMetadata = metadata };
    }
}

/// <summary>Where the worker that completed a workflow task says it was deployed.</summary>
internal static class WorkflowTaskDeployment
{
    /// <summary>
    /// The deployment fields of WorkflowTaskCompleted, as Temporal fills them: the deployment name from the request's
    /// deployment options, the deployment version (name and build id) only from a versioned worker, and the
    /// versioning behavior only when the worker is versioned. The build id of an unversioned worker stays in
    /// <c>worker_version</c>, the stamp the worker sent.
    /// </summary>
    public static WorkflowTaskCompletedEventAttributes WithDeployment(
        this WorkflowTaskCompletedEventAttributes attributes,
        RespondWorkflowTaskCompletedRequest request)
    {
        var options = request.DeploymentOptions;
#pragma warning disable CS0612 // the deprecated Deployment still names a worker of the older SDKs
        var legacy = request.Deployment;
#pragma warning restore CS0612
        attributes.WorkerDeploymentName = options?.DeploymentName is { Length: > 0 } name ? name : legacy?.SeriesName ?? "";
        var versioned = options?.WorkerVersioningMode == WorkerVersioningMode.Versioned;
        if (versioned)
        {
            attributes.DeploymentVersion = new WorkerDeploymentVersion
            {
                DeploymentName = options!.DeploymentName,
                BuildId = options.BuildId,
            };
        }
        else if (options is null && legacy is { SeriesName.Length: > 0, BuildId.Length: > 0 })
        {
            attributes.DeploymentVersion = new WorkerDeploymentVersion { DeploymentName = legacy.SeriesName, BuildId = legacy.BuildId };
        }

        attributes.VersioningBehavior = options is not null && !versioned ? VersioningBehavior.Unspecified : request.VersioningBehavior;
        return attributes;
    }
}
