using Formanova.DevServer.Engine;
using Google.Protobuf;
using Grpc.Core;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;

namespace Formanova.DevServer.Grpc;

/// <summary>Routes each bound RPC to its handler; anything without a handler answers UNIMPLEMENTED.</summary>
internal abstract class RpcEndpoint(RpcHandlerTable handlers, ILogger logger)
{
    public async Task<IMessage> InvokeAsync(string method, IMessage request, ServerCallContext context)
    {
        if (!handlers.TryGet(method, out var handler))
        {
            logger.LogWarning("Unimplemented RPC {Method}", method);
            throw new RpcException(new Status(StatusCode.Unimplemented, $"{method} is not supported by the Formanova dev server"));
        }

        try
        {
            logger.LogDebug("RPC {Method} {Request}", method, request);
            return await handler(request, context);
        }
        catch (RpcException e)
        {
            logger.LogDebug("RPC {Method} answered {Status}: {Detail}", method, e.StatusCode, e.Status.Detail);
            throw;
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Cancelled, "Call cancelled"));
        }
        catch (Exception e)
        {
            // One broken request must never take the server down; the caller sees INTERNAL and can retry.
            logger.LogError(e, "RPC {Method} failed", method);
            throw new RpcException(new Status(StatusCode.Internal, e.Message));
        }
    }
}

/// <summary><c>temporal.api.workflowservice.v1.WorkflowService</c>.</summary>
internal sealed class WorkflowServiceEndpoint(WorkflowServiceHandlers handlers, ILogger<WorkflowServiceEndpoint> logger)
    : RpcEndpoint(handlers, logger), IDescriptorEndpoint
{
    public static ServiceDescriptor Service => Temporalio.Api.WorkflowService.V1.ServiceReflection.Descriptor.Services[0];
}

/// <summary><c>temporal.api.operatorservice.v1.OperatorService</c>: search attributes and Nexus endpoints.</summary>
internal sealed class OperatorServiceEndpoint(OperatorServiceHandlers handlers, ILogger<OperatorServiceEndpoint> logger)
    : RpcEndpoint(handlers, logger), IDescriptorEndpoint
{
    public static ServiceDescriptor Service => Temporalio.Api.OperatorService.V1.ServiceReflection.Descriptor.Services[0];
}
