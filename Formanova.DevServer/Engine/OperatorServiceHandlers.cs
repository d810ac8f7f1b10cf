using Temporalio.Api.OperatorService.V1;

namespace Formanova.DevServer.Engine;

/// <summary>
/// The OperatorService RPCs the dev server implements: search attributes per namespace and Nexus endpoint records
/// (stored and versioned; no Nexus task is dispatched to them).
/// Everything else (namespace deletion, remote clusters) answers UNIMPLEMENTED.
/// </summary>
internal sealed class OperatorServiceHandlers : RpcHandlerTable
{
    public OperatorServiceHandlers(WorkflowEngine engine)
    {
        var attributes = engine.SearchAttributes;
        Add<ListSearchAttributesRequest, ListSearchAttributesResponse>("ListSearchAttributes", (r, _) =>
        {
            RequireNamespace(engine, r.Namespace);
            var response = new ListSearchAttributesResponse();
            response.CustomAttributes.Add(attributes.CustomAttributes(r.Namespace));
            response.SystemAttributes.Add(SearchAttributeRegistry.System);
            response.SystemAttributes.Add(SearchAttributeRegistry.Predefined);
            return response;
        });
        Add<AddSearchAttributesRequest, AddSearchAttributesResponse>("AddSearchAttributes", (r, _) =>
        {
            RequireNamespace(engine, r.Namespace);
            attributes.Add(r.Namespace, r.SearchAttributes);
            return new AddSearchAttributesResponse();
        });
        Add<RemoveSearchAttributesRequest, RemoveSearchAttributesResponse>("RemoveSearchAttributes", (r, _) =>
        {
            RequireNamespace(engine, r.Namespace);
            attributes.Remove(r.Namespace, r.SearchAttributes);
            return new RemoveSearchAttributesResponse();
        });
        var endpoints = engine.NexusEndpoints;
        Add<CreateNexusEndpointRequest, CreateNexusEndpointResponse>(
            "CreateNexusEndpoint",
            (r, _) => new CreateNexusEndpointResponse { Endpoint = endpoints.Create(r.Spec) });
        Add<UpdateNexusEndpointRequest, UpdateNexusEndpointResponse>(
            "UpdateNexusEndpoint",
            (r, _) => new UpdateNexusEndpointResponse { Endpoint = endpoints.Update(r) });
        Add<DeleteNexusEndpointRequest, DeleteNexusEndpointResponse>("DeleteNexusEndpoint", (r, _) =>
        {
            endpoints.Delete(r);
            return new DeleteNexusEndpointResponse();
        });
        Add<GetNexusEndpointRequest, GetNexusEndpointResponse>(
            "GetNexusEndpoint",
            (r, _) => new GetNexusEndpointResponse { Endpoint = endpoints.Get(r.Id) });
        Add<ListNexusEndpointsRequest, ListNexusEndpointsResponse>("ListNexusEndpoints", (r, _) => endpoints.List(r));
    }

    private static void RequireNamespace(WorkflowEngine engine, string ns)
    {
        if (string.IsNullOrEmpty(ns))
        {
            throw Errors.InvalidArgument("Namespace is not set on request.");
        }

        engine.RequireNamespace(ns);
    }
}
