using Google.Protobuf;
using Grpc.Core;

namespace Formanova.DevServer.Engine;

/// <summary>The RPCs one service implements, by method name; a method without a handler answers UNIMPLEMENTED.</summary>
internal abstract class RpcHandlerTable
{
    private readonly Dictionary<string, RpcHandler> _handlers = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Implemented => _handlers.Keys;

    public bool TryGet(string method, out RpcHandler handler) => _handlers.TryGetValue(method, out handler!);

    protected void Add<TRequest, TResponse>(string name, Func<TRequest, ServerCallContext, TResponse> handler)
        where TRequest : IMessage
        where TResponse : IMessage =>
        _handlers[name] = (request, context) => Task.FromResult<IMessage>(handler((TRequest)request, context));

    protected void AddAsync<TRequest, TResponse>(string name, Func<TRequest, ServerCallContext, Task<TResponse>> handler)
        where TRequest : IMessage
        where TResponse : IMessage =>
        _handlers[name] = async (request, context) => await handler((TRequest)request, context);
}
