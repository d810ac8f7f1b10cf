using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.History.V1;

namespace Formanova.DevServer.Engine;

/// <summary>Work that reaches from one run to another: chained runs, children, external signals and cancels.</summary>
internal sealed partial class WorkflowEngine : ICommandEffects
{
    // The next run is fully initialised before anyone can see it; its task is dispatched, and its events
    // persisted, together with the predecessor's close (see PersistLocked).
    public WorkflowRun CreateChainedRun(WorkflowRun run, WorkflowExecutionStartedEventAttributes attributes, List<Action> after)
    {
        var newRun = new WorkflowRun(run.Namespace, run.WorkflowId, Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), _clock);
        // Lock order: predecessor before successor (see the WorkflowEngine summary); nobody else can see the new
        // run yet, so this never waits.
        lock (newRun.Gate)
        {
            InitRun(newRun, attributes, null, after);
        }

        _runs[newRun.RunId] = newRun;
        return newRun;
    }

    public void PublishChainedRun(WorkflowRun run, WorkflowRun newRun)
    {
        run.LinkNextRun(newRun);
        if (_slots.TryGetValue((run.Namespace, run.WorkflowId), out var slot))
        {
            slot.Current = newRun;
        }
    }

    // ---- Children ----

    public void LaunchChild(WorkflowRun parent, long initiatedId, StartChildWorkflowExecutionInitiatedEventAttributes c)
    {
        StartOutcome? outcome = null;
        var cause = StartChildWorkflowExecutionFailedCause.WorkflowAlreadyExists;
        try
        {
            RequireNamespace(c.Namespace);
            var start = new WorkflowExecutionStartedEventAttributes
            {
                WorkflowType = c.WorkflowType,
                TaskQueue = c.TaskQueue,
                Input = c.Input,
                WorkflowExecutionTimeout = c.WorkflowExecutionTimeout,
                WorkflowRunTimeout = c.WorkflowRunTimeout,
                WorkflowTaskTimeout = c.WorkflowTaskTimeout,
                ParentWorkflowNamespace = parent.Namespace,
                ParentWorkflowExecution = parent.Execution,
                ParentInitiatedEventId = initiatedId,
                RetryPolicy = c.RetryPolicy,
                Header = c.Header,
                Memo = c.Memo,
                SearchAttributes = c.SearchAttributes,
                Identity = "parent",
                Priority = c.Priority,
            };
            RunDetails.InheritFromParent(start, parent, RequireNamespace(parent.Namespace).Id);
            var policy = c.WorkflowIdReusePolicy == WorkflowIdReusePolicy.Unspecified
                ? WorkflowIdReusePolicy.AllowDuplicate
                : c.WorkflowIdReusePolicy;
            outcome = StartWorkflow(
                new StartParams(c.Namespace, c.WorkflowId, start, $"{parent.RunId}:{initiatedId}", policy, WorkflowIdConflictPolicy.Fail)
                {
                    UserMetadata = RunDetails.InitiatedMetadata(parent, initiatedId),
                });
            if (!outcome.Started)
            {
                outcome = null;
            }
        }
        catch (global::Grpc.Core.RpcException e) when (e
            .StatusCode is global::Grpc.Core.StatusCode.AlreadyExists or global::Grpc.Core.StatusCode.NotFound)
        {
            if (e.StatusCode == global::Grpc.Core.StatusCode.NotFound)
            {
                cause = StartChildWorkflowExecutionFailedCause.NamespaceNotFound;
            }
        }

        Locked(parent, after =>
        {
            if (!parent.Children.TryGetValue(initiatedId, out var child))
            {
                return;
            }

            if (outcome is null)
            {
                WriteOrBuffer(parent, () => parent.Add(EventType.StartChildWorkflowExecutionFailed, e => e
                    .StartChildWorkflowExecutionFailedEventAttributes = new StartChildWorkflowExecutionFailedEventAttributes
                    {
                        Namespace = c.Namespace,
                        WorkflowId = c.WorkflowId,
                        WorkflowType = c.WorkflowType,
                        Cause = cause,
                        Control = c.Control,
                        InitiatedEventId = initiatedId,
                        WorkflowTaskCompletedEventId = c.WorkflowTaskCompletedEventId,
                    }), after);
                return;
            }

            var execution = outcome.Run.Execution;
            WriteOrBuffer(parent, () => EnsureChildStarted(parent, initiatedId, execution), after);
        });
    }

    /// <summary>The child may finish before its start is recorded in the parent; whichever comes first writes it.</summary>
    private static void EnsureChildStarted(WorkflowRun parent, long initiatedId, Temporalio.Api.Common.V1.WorkflowExecution execution)
    {
        if (!parent.Children.TryGetValue(initiatedId, out var child) || child.StartedEventId != 0)
        {
            return;
        }

        parent.Add(EventType.ChildWorkflowExecutionStarted, e => e.ChildWorkflowExecutionStartedEventAttributes
            = new ChildWorkflowExecutionStartedEventAttributes
            {
                Namespace = child.Attributes.Namespace,
                InitiatedEventId = initiatedId,
                WorkflowExecution = execution,
                WorkflowType = child.Attributes.WorkflowType,
                Header = child.Attributes.Header,
            });
    }

    private void NotifyParent(string parentRunId, long initiatedId, Temporalio.Api.Common.V1.WorkflowExecution child, string firstRunId,
        WorkflowType type, string childNamespace, HistoryEvent closeEvent)
    {
        if (!_runs.TryGetValue(parentRunId, out var parent))
        {
            return;
        }

        Locked(parent, after =>
        {
            if (!parent.IsRunning || !parent.Children.ContainsKey(initiatedId))
            {
                return;
            }

            WriteOrBuffer(parent, () =>
            {
                EnsureChildStarted(
                    parent,
                    initiatedId,
                    new Temporalio.Api.Common.V1.WorkflowExecution { WorkflowId = child.WorkflowId, RunId = firstRunId });
                if (!parent.Children.TryGetValue(initiatedId, out var state))
                {
                    return;
                }

                var startedId = state.StartedEventId;
                switch (closeEvent.EventType)
                {
                    case EventType.WorkflowExecutionCompleted:
                        parent.Add(EventType.ChildWorkflowExecutionCompleted, e => e.ChildWorkflowExecutionCompletedEventAttributes
                            = new ChildWorkflowExecutionCompletedEventAttributes
                            {
                                Result = closeEvent.WorkflowExecutionCompletedEventAttributes.Result,
                                Namespace = childNamespace,
                                WorkflowExecution = child,
                                WorkflowType = type,
                                InitiatedEventId = initiatedId,
                                StartedEventId = startedId,
                            });
                        break;
                    case EventType.WorkflowExecutionFailed:
                        parent.Add(EventType.ChildWorkflowExecutionFailed, e => e.ChildWorkflowExecutionFailedEventAttributes
                            = new ChildWorkflowExecutionFailedEventAttributes
                            {
                                Failure = closeEvent.WorkflowExecutionFailedEventAttributes.Failure,
                                RetryState = closeEvent.WorkflowExecutionFailedEventAttributes.RetryState,
                                Namespace = childNamespace,
                                WorkflowExecution = child,
                                WorkflowType = type,
                                InitiatedEventId = initiatedId,
                                StartedEventId = startedId,
                            });
                        break;
                    case EventType.WorkflowExecutionCanceled:
                        parent.Add(EventType.ChildWorkflowExecutionCanceled, e => e.ChildWorkflowExecutionCanceledEventAttributes
                            = new ChildWorkflowExecutionCanceledEventAttributes
                            {
                                Details = closeEvent.WorkflowExecutionCanceledEventAttributes.Details,
                                Namespace = childNamespace,
                                WorkflowExecution = child,
                                WorkflowType = type,
                                InitiatedEventId = initiatedId,
                                StartedEventId = startedId,
                            });
                        break;
                    case EventType.WorkflowExecutionTerminated:
                        parent.Add(EventType.ChildWorkflowExecutionTerminated, e => e.ChildWorkflowExecutionTerminatedEventAttributes
                            = new ChildWorkflowExecutionTerminatedEventAttributes
                            {
                                Namespace = childNamespace,
                                WorkflowExecution = child,
                                WorkflowType = type,
                                InitiatedEventId = initiatedId,
                                StartedEventId = startedId,
                            });
                        break;
                    case EventType.WorkflowExecutionTimedOut:
                        parent.Add(EventType.ChildWorkflowExecutionTimedOut, e => e.ChildWorkflowExecutionTimedOutEventAttributes
                            = new ChildWorkflowExecutionTimedOutEventAttributes
                            {
                                RetryState = RetryState.Timeout,
                                Namespace = childNamespace,
                                WorkflowExecution = child,
                                WorkflowType = type,
                                InitiatedEventId = initiatedId,
                                StartedEventId = startedId,
                            });
                        break;
                }
            }, after);
        });
    }

    // ---- External signal / cancel ----

    public void DeliverExternal(WorkflowRun source, HistoryEvent initiated)
    {
        var isSignal = initiated.EventType == EventType.SignalExternalWorkflowExecutionInitiated;
        var ns = isSignal
            ? initiated.SignalExternalWorkflowExecutionInitiatedEventAttributes.Namespace
            : initiated.RequestCancelExternalWorkflowExecutionInitiatedEventAttributes.Namespace;
        var target = isSignal
            ? initiated.SignalExternalWorkflowExecutionInitiatedEventAttributes.WorkflowExecution
            : initiated.RequestCancelExternalWorkflowExecutionInitiatedEventAttributes.WorkflowExecution;
        var delivered = false;
        try
        {
            var run = FindRun(ns, target);
            if (isSignal)
            {
                var s = initiated.SignalExternalWorkflowExecutionInitiatedEventAttributes;
                Signal(run, s.SignalName, s.Input, s.Header, source.WorkflowId);
            }
            else
            {
                RequestCancel(
                    run,
                    initiated.RequestCancelExternalWorkflowExecutionInitiatedEventAttributes.Reason,
                    source.WorkflowId,
                    initiated.EventId,
                    source.Execution);
            }

            delivered = true;
        }
        catch (global::Grpc.Core.RpcException)
        {
            delivered = false;
        }

        Locked(source, after =>
        {
            if (!source.PendingExternal.ContainsKey(initiated.EventId))
            {
                return;
            }

            WriteOrBuffer(source, () =>
            {
                if (!source.PendingExternal.ContainsKey(initiated.EventId))
                {
                    return;
                }

                if (isSignal)
                {
                    var s = initiated.SignalExternalWorkflowExecutionInitiatedEventAttributes;
                    if (delivered)
                    {
                        source.Add(EventType.ExternalWorkflowExecutionSignaled, e => e.ExternalWorkflowExecutionSignaledEventAttributes
                            = new ExternalWorkflowExecutionSignaledEventAttributes
                            {
                                InitiatedEventId = initiated.EventId,
                                Namespace = ns,
                                WorkflowExecution = target,
                                Control = s.Control,
                            });
                    }
                    else
                    {
                        source.Add(EventType.SignalExternalWorkflowExecutionFailed, e => e
                            .SignalExternalWorkflowExecutionFailedEventAttributes = new SignalExternalWorkflowExecutionFailedEventAttributes
                            {
                                Cause = SignalExternalWorkflowExecutionFailedCause.ExternalWorkflowExecutionNotFound,
                                WorkflowTaskCompletedEventId = s.WorkflowTaskCompletedEventId,
                                InitiatedEventId = initiated.EventId,
                                Namespace = ns,
                                WorkflowExecution = target,
                                Control = s.Control,
                            });
                    }
                }
                else
                {
                    var c = initiated.RequestCancelExternalWorkflowExecutionInitiatedEventAttributes;
                    if (delivered)
                    {
                        source.Add(EventType.ExternalWorkflowExecutionCancelRequested, e => e
                            .ExternalWorkflowExecutionCancelRequestedEventAttributes
                            = new ExternalWorkflowExecutionCancelRequestedEventAttributes
                            {
                                InitiatedEventId = initiated.EventId,
                                Namespace = ns,
                                WorkflowExecution = target,
                            });
                    }
                    else
                    {
                        source.Add(EventType.RequestCancelExternalWorkflowExecutionFailed, e => e
                            .RequestCancelExternalWorkflowExecutionFailedEventAttributes
                            = new RequestCancelExternalWorkflowExecutionFailedEventAttributes
                            {
                                Cause = CancelExternalWorkflowExecutionFailedCause.ExternalWorkflowExecutionNotFound,
                                WorkflowTaskCompletedEventId = c.WorkflowTaskCompletedEventId,
                                InitiatedEventId = initiated.EventId,
                                Namespace = ns,
                                WorkflowExecution = target,
                                Control = c.Control,
                            });
                    }
                }
            }, after);
        });
    }
}
