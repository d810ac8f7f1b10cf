using System.Text.RegularExpressions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Nexus.V1;
using Temporalio.Api.OperatorService.V1;
using Endpoint = Temporalio.Api.Nexus.V1.Endpoint;

namespace Formanova.DevServer.Engine;

/// <summary>
/// Nexus endpoint records (the OperatorService's endpoint CRUD), versioned and stored durably, with Temporal's
/// validation. Only the records: no Nexus task is ever dispatched to an endpoint's target.
/// </summary>
internal sealed partial class NexusEndpointRegistry
{
    private const int MaxNameLength = 200;
    private const int MaxTaskQueueLength = 1000;
    private const int MaxDescriptionBytes = 20_000;
    private const int MaxUrlLength = 4000;
    private const int DefaultPageSize = 100;
    private const int MaxPageSize = 1000;

    private readonly IEventStore _store;
    private readonly TimeProvider _clock;
    private readonly Func<string, bool> _namespaceExists;
    private readonly Lock _gate = new();
    private readonly SortedDictionary<string, Endpoint> _endpoints = new(StringComparer.Ordinal);

    public NexusEndpointRegistry(IEventStore store, TimeProvider clock, Func<string, bool> namespaceExists)
    {
        _store = store;
        _clock = clock;
        _namespaceExists = namespaceExists;
        foreach (var endpoint in store.LoadNexusEndpoints())
        {
            _endpoints[endpoint.Id] = endpoint;
        }
    }

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex NameRegex();

    public Endpoint Create(EndpointSpec? spec)
    {
        Validate(spec);
        lock (_gate)
        {
            RequireUniqueName(spec!.Name, exceptId: null);
            var now = Timestamp.FromDateTimeOffset(_clock.GetUtcNow());
            var id = Guid.NewGuid().ToString();
            var endpoint = new Endpoint
            {
                Id = id,
                Version = 1,
                Spec = spec,
                CreatedTime = now,
                LastModifiedTime = now,
                UrlPrefix = $"/nexus/endpoints/{id}",
            };
            _store.SaveNexusEndpoint(endpoint);
            _endpoints[id] = endpoint;
            return endpoint.Clone();
        }
    }

    public Endpoint Update(UpdateNexusEndpointRequest request)
    {
        RequireId(request.Id);
        Validate(request.Spec);
        lock (_gate)
        {
            var current = Find(request.Id);
            if (current.Version != request.Version)
            {
                throw Errors.FailedPrecondition(
                    $"nexus endpoint version mismatch: the endpoint is at version {current.Version}, the request has {request.Version}");
            }

            RequireUniqueName(request.Spec.Name, exceptId: request.Id);
            var endpoint = current.Clone();
            endpoint.Version++;
            endpoint.Spec = request.Spec;
            endpoint.LastModifiedTime = Timestamp.FromDateTimeOffset(_clock.GetUtcNow());
            _store.SaveNexusEndpoint(endpoint);
            _endpoints[endpoint.Id] = endpoint;
            return endpoint.Clone();
        }
    }

    public void Delete(DeleteNexusEndpointRequest request)
    {
        RequireId(request.Id);
        if (request.Version <= 0)
        {
            throw Errors.InvalidArgument("endpoint version is non-positive");
        }

        lock (_gate)
        {
            Find(request.Id);
            _store.DeleteNexusEndpoint(request.Id);
            _endpoints.Remove(request.Id);
        }
    }

    public Endpoint Get(string id)
    {
        RequireId(id);
        lock (_gate)
        {
            return Find(id).Clone();
        }
    }

    /// <summary>Ordered by id and paged after the last id; a name filter returns that endpoint or none.</summary>
    public ListNexusEndpointsResponse List(ListNexusEndpointsRequest request)
    {
        var response = new ListNexusEndpointsResponse();
        lock (_gate)
        {
            if (!string.IsNullOrEmpty(request.Name))
            {
                response.Endpoints.AddRange(_endpoints.Values.Where(e => e.Spec.Name == request.Name).Select(e => e.Clone()));
                return response;
            }

            if (request.PageSize < 0 || request.PageSize > MaxPageSize)
            {
                throw Errors.InvalidArgument(
                    request.PageSize < 0 ? "page_size is negative" : $"page_size exceeds limit of {MaxPageSize}");
            }

            var pageSize = request.PageSize == 0 ? DefaultPageSize : request.PageSize;
            var after = request.NextPageToken.ToStringUtf8();
            var page = _endpoints.Values.Where(e => string.CompareOrdinal(e.Id, after) > 0).Take(pageSize + 1).ToList();
            response.Endpoints.AddRange(page.Take(pageSize).Select(e => e.Clone()));
            if (page.Count > pageSize)
            {
                response.NextPageToken = ByteString.CopyFromUtf8(page[pageSize - 1].Id);
            }
        }

        return response;
    }

    private Endpoint Find(string id) =>
        _endpoints.TryGetValue(id, out var endpoint) ? endpoint : throw Errors.NotFound($"Nexus endpoint with ID `{id}` not found");

    private void RequireUniqueName(string name, string? exceptId)
    {
        if (_endpoints.Values.Any(e => e.Spec.Name == name && e.Id != exceptId))
        {
            throw new global::Grpc.Core.RpcException(new global::Grpc.Core.Status(
                global::Grpc.Core.StatusCode.AlreadyExists,
                $"error creating Nexus endpoint: endpoint with name {name} already registered"));
        }
    }

    private static void RequireId(string id)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw Errors.InvalidArgument("endpoint ID not set");
        }

        if (!Guid.TryParse(id, out _))
        {
            throw Errors.InvalidArgument($"malformed endpoint ID: {id}");
        }
    }

    private void Validate(EndpointSpec? spec)
    {
        var issues = new List<string>();
        var name = spec?.Name ?? "";
        if (name.Length == 0)
        {
            issues.Add("endpoint name not set");
        }
        else
        {
            if (name.Length > MaxNameLength)
            {
                issues.Add($"endpoint name exceeds length limit of {MaxNameLength}");
            }

            if (!NameRegex().IsMatch(name))
            {
                issues.Add($"endpoint name must match the regex: {NameRegex()}");
            }
        }

        switch (spec?.Target?.VariantCase ?? EndpointTarget.VariantOneofCase.None)
        {
            case EndpointTarget.VariantOneofCase.Worker:
                var worker = spec!.Target.Worker;
                if (string.IsNullOrEmpty(worker.Namespace))
                {
                    issues.Add("target namespace not set");
                }
                else if (!_namespaceExists(worker.Namespace))
                {
                    throw Errors.FailedPrecondition(
                        $"could not verify namespace referenced by target exists: Namespace {worker.Namespace} is not found.");
                }

                if (string.IsNullOrWhiteSpace(worker.TaskQueue) || worker.TaskQueue.Length > MaxTaskQueueLength)
                {
                    issues.Add("invalid target task queue");
                }

                break;
            case EndpointTarget.VariantOneofCase.External:
                var url = spec!.Target.External.Url;
                if (string.IsNullOrEmpty(url))
                {
                    issues.Add("empty target URL");
                }
                else if (url.Length > MaxUrlLength)
                {
                    issues.Add($"target URL length exceeds limit of {MaxUrlLength}");
                }
                else if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                {
                    issues.Add($"invalid target URL: {url}, expected an absolute http or https URL");
                }

                break;
            default:
                issues.Add("empty target variant");
                break;
        }

        if (spec?.Description is { } description && description.CalculateSize() > MaxDescriptionBytes)
        {
            issues.Add($"description length exceeds limit of {MaxDescriptionBytes}");
        }

        if (issues.Count > 0)
        {
            throw Errors.InvalidArgument(string.Join(", ", issues));
        }
    }
}
