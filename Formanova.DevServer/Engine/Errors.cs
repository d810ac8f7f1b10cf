using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Temporalio.Api.ErrorDetails.V1;

namespace Formanova.DevServer.Engine;

internal static class Errors
{
    public static RpcException InvalidArgument(string message) => new(new Status(StatusCode.InvalidArgument, message));

    public static RpcException NotFound(string message) =>
        WithDetail(StatusCode.NotFound, message, new NotFoundFailure());

    public static RpcException NamespaceNotFound(string ns) =>
        WithDetail(StatusCode.NotFound, $"Namespace {ns} is not found.", new NamespaceNotFoundFailure { Namespace = ns });

    public static RpcException FailedPrecondition(string message) => new(new Status(StatusCode.FailedPrecondition, message));

    public static RpcException AlreadyStarted(string message, string requestId, string runId) =>
        WithDetail(
            StatusCode.AlreadyExists,
            message,
            new WorkflowExecutionAlreadyStartedFailure { StartRequestId = requestId, RunId = runId });

    public static RpcException NamespaceAlreadyExists(string ns) =>
        WithDetail(StatusCode.AlreadyExists, $"Namespace {ns} already exists.", new NamespaceAlreadyExistsFailure());

    public static RpcException QueryFailed(string message) =>
        WithDetail(StatusCode.InvalidArgument, message, new QueryFailedFailure());

    public static RpcException WorkflowNotReady(string message) =>
        WithDetail(StatusCode.FailedPrecondition, message, new WorkflowNotReadyFailure());

    // The SDK reads typed failures from google.rpc.Status in the grpc-status-details-bin trailer. The package
    // carries no google.rpc.Status type, so the three fields are written by hand.
    internal static RpcException WithDetail(StatusCode code, string message, IMessage detail)
    {
        var any = Any.Pack(detail);
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(1, WireFormat.WireType.Varint);
        output.WriteInt32((int)code);
        output.WriteTag(2, WireFormat.WireType.LengthDelimited);
        output.WriteString(message);
        output.WriteTag(3, WireFormat.WireType.LengthDelimited);
        output.WriteMessage(any);
        output.Flush();
        var trailers = new Metadata { { "grpc-status-details-bin", stream.ToArray() } };
        return new RpcException(new Status(code, message), trailers);
    }
}
