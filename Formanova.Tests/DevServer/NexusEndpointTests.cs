using Temporalio.Api.Nexus.V1;
using Temporalio.Api.OperatorService.V1;
using Temporalio.Exceptions;

namespace Formanova.Tests.DevServer;

/// <summary>Nexus endpoint records through the OperatorService: created, versioned, listed and deleted; never dispatched to.</summary>
[TestFixture]
[Category("Integration")]
public class NexusEndpointTests : DevServerFixture
{
    private static EndpointSpec WorkerSpec(string name, string queue = "nexus-queue") => new()
    {
        Name = name,
        Target = new EndpointTarget { Worker = new EndpointTarget.Types.Worker { Namespace = "default", TaskQueue = queue } },
    };

    private static string NewName() => $"ep_{Guid.NewGuid():N}";

    private Task<CreateNexusEndpointResponse> CreateAsync(EndpointSpec spec) =>
        Client.Connection.OperatorService.CreateNexusEndpointAsync(new CreateNexusEndpointRequest { Spec = spec });

    [Test]
    public async Task CreateThenUpdate_BumpsTheVersionAndGetReturnsTheLatestSpec()
    {
        var name = NewName();
        var created = (await CreateAsync(WorkerSpec(name))).Endpoint;

        var updated = (await Client.Connection.OperatorService.UpdateNexusEndpointAsync(new UpdateNexusEndpointRequest
        {
            Id = created.Id,
            Version = created.Version,
            Spec = WorkerSpec(name, "other-queue"),
        })).Endpoint;
        var fetched = (await Client.Connection.OperatorService.GetNexusEndpointAsync(new GetNexusEndpointRequest { Id = created.Id }))
            .Endpoint;

        Assert.Multiple(() =>
        {
            Assert.That(created.Version, Is.EqualTo(1));
            Assert.That(created.UrlPrefix, Is.EqualTo($"/nexus/endpoints/{created.Id}"));
            Assert.That(updated.Version, Is.EqualTo(2));
            Assert.That(fetched.Spec.Target.Worker.TaskQueue, Is.EqualTo("other-queue"));
            Assert.That(fetched.CreatedTime, Is.EqualTo(created.CreatedTime));
        });
    }

    [Test]
    public async Task Update_WithAStaleVersion_ThrowsFailedPrecondition()
    {
        var name = NewName();
        var created = (await CreateAsync(WorkerSpec(name))).Endpoint;
        var update = new UpdateNexusEndpointRequest { Id = created.Id, Version = created.Version, Spec = WorkerSpec(name, "q2") };
        await Client.Connection.OperatorService.UpdateNexusEndpointAsync(update);

        var error = await ThrowsAsync<RpcException>(() => Client.Connection.OperatorService.UpdateNexusEndpointAsync(update));

        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.FailedPrecondition));
    }

    [Test]
    public async Task Create_WithANameInUse_ThrowsAlreadyExists()
    {
        var name = NewName();
        await CreateAsync(WorkerSpec(name));

        var error = await ThrowsAsync<RpcException>(() => CreateAsync(WorkerSpec(name)));

        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.AlreadyExists));
    }

    [TestCase("1-bad-name", RpcException.StatusCode.InvalidArgument)]
    [TestCase("", RpcException.StatusCode.InvalidArgument)]
    public async Task Create_WithAnInvalidName_ThrowsInvalidArgument(string name, RpcException.StatusCode code)
    {
        var error = await ThrowsAsync<RpcException>(() => CreateAsync(WorkerSpec(name)));

        Assert.That(error.Code, Is.EqualTo(code));
    }

    [Test]
    public async Task Create_TargetingAnUnknownNamespaceOrABadUrl_IsRefused()
    {
        var unknownNamespace = WorkerSpec(NewName());
        unknownNamespace.Target.Worker.Namespace = "no-such-namespace";
        var badUrl = new EndpointSpec
        {
            Name = NewName(),
            Target = new EndpointTarget { External = new EndpointTarget.Types.External { Url = "ftp://example.invalid/x" } },
        };

        var namespaceError = await ThrowsAsync<RpcException>(() => CreateAsync(unknownNamespace));
        var urlError = await ThrowsAsync<RpcException>(() => CreateAsync(badUrl));

        Assert.Multiple(() =>
        {
            Assert.That(namespaceError.Code, Is.EqualTo(RpcException.StatusCode.FailedPrecondition));
            Assert.That(urlError.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
        });
    }

    [Test]
    public async Task List_PagesInIdOrderAndFiltersByName()
    {
        var names = Enumerable.Range(0, 3).Select(_ => NewName()).ToList();
        var ids = new List<string>();
        foreach (var name in names)
        {
            ids.Add((await CreateAsync(WorkerSpec(name))).Endpoint.Id);
        }

        var listed = new List<string>();
        var token = Google.Protobuf.ByteString.Empty;
        do
        {
            var page = await Client.Connection.OperatorService.ListNexusEndpointsAsync(
                new ListNexusEndpointsRequest { PageSize = 2, NextPageToken = token });
            Assert.That(page.Endpoints, Has.Count.LessThanOrEqualTo(2));
            listed.AddRange(page.Endpoints.Select(e => e.Id));
            token = page.NextPageToken;
        }
        while (!token.IsEmpty);
        var byName = await Client.Connection.OperatorService.ListNexusEndpointsAsync(new ListNexusEndpointsRequest { Name = names[1] });

        Assert.Multiple(() =>
        {
            Assert.That(listed, Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
            Assert.That(listed, Is.SupersetOf(ids));
            Assert.That(byName.Endpoints.Select(e => e.Id), Is.EqualTo(new[] { ids[1] }));
        });
    }

    [Test]
    public async Task Delete_ThenGet_ThrowsNotFound()
    {
        var created = (await CreateAsync(WorkerSpec(NewName()))).Endpoint;

        await Client.Connection.OperatorService.DeleteNexusEndpointAsync(
            new DeleteNexusEndpointRequest { Id = created.Id, Version = created.Version });
        var error = await ThrowsAsync<RpcException>(() =>
            Client.Connection.OperatorService.GetNexusEndpointAsync(new GetNexusEndpointRequest { Id = created.Id }));

        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.NotFound));
    }
}
