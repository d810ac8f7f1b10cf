using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;

namespace Formanova.DevServer.Grpc;

/// <summary>A gRPC service bound from its descriptor: every method goes to <see cref="InvokeAsync"/> by name.</summary>
internal interface IDescriptorEndpoint
{
    static abstract ServiceDescriptor Service { get; }

    Task<IMessage> InvokeAsync(string method, IMessage request, ServerCallContext context);
}

/// <summary>
/// The Temporalio package ships the message types and descriptors but no server stubs, so every method of a service
/// descriptor (the WorkflowService's, the OperatorService's) is bound here with protobuf marshallers built from it.
/// </summary>
internal sealed class DescriptorServiceMethodProvider<TEndpoint> : IServiceMethodProvider<TEndpoint>
    where TEndpoint : class, IDescriptorEndpoint
{
    private static readonly MethodInfo AddMethodDefinition =
        typeof(DescriptorServiceMethodProvider<TEndpoint>).GetMethod(nameof(AddMethod), BindingFlags.NonPublic | BindingFlags.Static)!;

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TEndpoint> context)
    {
        foreach (var method in TEndpoint.Service.Methods)
        {
            AddMethodDefinition.MakeGenericMethod(method.InputType.ClrType, method.OutputType.ClrType)
                .Invoke(null, [context, method]);
        }
    }

    private static void AddMethod<TRequest, TResponse>(
        ServiceMethodProviderContext<TEndpoint> context,
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
