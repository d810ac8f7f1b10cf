using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;

namespace Formanova.DevServer.Grpc;

/// <summary>
/// The Temporalio package ships the message types and descriptors but no server stubs, so every method of
/// the WorkflowService descriptor is bound here with protobuf marshallers built from the descriptor.
/// </summary>
internal sealed class WorkflowServiceMethodProvider : IServiceMethodProvider<WorkflowServiceEndpoint>
{
    private static readonly MethodInfo AddMethodDefinition =
        typeof(WorkflowServiceMethodProvider).GetMethod(nameof(AddMethod), BindingFlags.NonPublic | BindingFlags.Static)!;

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<WorkflowServiceEndpoint> context)
    {
        var service = Temporalio.Api.WorkflowService.V1.ServiceReflection.Descriptor.Services[0];
        foreach (var method in service.Methods)
        {
            AddMethodDefinition.MakeGenericMethod(method.InputType.ClrType, method.OutputType.ClrType)
                .Invoke(null, [context, method]);
        }
    }

    private static void AddMethod<TRequest, TResponse>(
        ServiceMethodProviderContext<WorkflowServiceEndpoint> context,
        MethodDescriptor descriptor)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var requestParser = new MessageParser<TRequest>(() => new TRequest());
        var responseParser = new MessageParser<TResponse>(() => new TResponse());
        var method = new Method<TRequest, TResponse>(
            MethodType.Unary,
            descriptor.Service.FullName,
            descriptor.Name,
            Marshallers.Create(m => m.ToByteArray(), requestParser.ParseFrom),
            Marshallers.Create(m => m.ToByteArray(), responseParser.ParseFrom));
        var name = descriptor.Name;
        context.AddUnaryMethod(method, [], async (endpoint, request, callContext) =>
            (TResponse)await endpoint.InvokeAsync(name, request, callContext));
    }
}
