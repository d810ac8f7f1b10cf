using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.OperatorService.V1;
using Temporalio.Api.WorkflowService.V1;
using Temporalio.Exceptions;

namespace Formanova.Tests.DevServer;

/// <summary>The OperatorService's search attribute RPCs through the SDK's raw service client, one namespace per test.</summary>
[TestFixture]
[Category("Integration")]
public class OperatorServiceTests : DevServerFixture
{
    private async Task<string> NewNamespaceAsync()
    {
        var ns = $"ns-{Guid.NewGuid():N}";
        await Client.Connection.WorkflowService.RegisterNamespaceAsync(new RegisterNamespaceRequest
        {
            Namespace = ns,
            WorkflowExecutionRetentionPeriod = Duration.FromTimeSpan(TimeSpan.FromDays(1)),
        });
        return ns;
    }

    private Task AddAsync(string ns, params (string Name, IndexedValueType Type)[] attributes)
    {
        var request = new AddSearchAttributesRequest { Namespace = ns };
        foreach (var (name, type) in attributes)
        {
            request.SearchAttributes[name] = type;
        }

        return Client.Connection.OperatorService.AddSearchAttributesAsync(request);
    }

    private async Task<ListSearchAttributesResponse> ListAsync(string ns) =>
        await Client.Connection.OperatorService.ListSearchAttributesAsync(new ListSearchAttributesRequest { Namespace = ns });

    [Test]
    public async Task AddSearchAttributes_ThenList_ShowsThemBesideTheSystemAttributes()
    {
        var ns = await NewNamespaceAsync();

        await AddAsync(ns, ("Region", IndexedValueType.Keyword), ("Score", IndexedValueType.Double));
        var listed = await ListAsync(ns);
        var other = await ListAsync("default");

        Assert.Multiple(() =>
        {
            Assert.That(listed.CustomAttributes, Is.EquivalentTo(new Dictionary<string, IndexedValueType>
            {
                ["Region"] = IndexedValueType.Keyword,
                ["Score"] = IndexedValueType.Double,
            }));
            Assert.That(listed.SystemAttributes["WorkflowId"], Is.EqualTo(IndexedValueType.Keyword));
            Assert.That(listed.SystemAttributes["TemporalChangeVersion"], Is.EqualTo(IndexedValueType.KeywordList));
            Assert.That(other.CustomAttributes.Keys, Does.Not.Contain("Region"), "attributes belong to their namespace");
        });
    }

    [Test]
    public async Task AddSearchAttributes_WhenAlreadyRegisteredWithTheSameType_SucceedsWithNothingToDo()
    {
        var ns = await NewNamespaceAsync();
        await AddAsync(ns, ("Region", IndexedValueType.Keyword));

        await AddAsync(ns, ("Region", IndexedValueType.Keyword));

        Assert.That((await ListAsync(ns)).CustomAttributes, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task AddSearchAttributes_WhenRegisteredWithAnotherType_ThrowsAlreadyExists()
    {
        var ns = await NewNamespaceAsync();
        await AddAsync(ns, ("Region", IndexedValueType.Keyword));

        var error = await ThrowsAsync<RpcException>(() => AddAsync(ns, ("Region", IndexedValueType.Int)));

        Assert.Multiple(() =>
        {
            Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.AlreadyExists));
            Assert.That(error.Message, Does.Contain("Region"));
        });
    }

    [TestCase("WorkflowId")]
    [TestCase("TemporalChangeVersion")]
    [TestCase("TemporalAnything")]
    [TestCase("Memo")]
    public async Task AddSearchAttributes_WithAReservedName_ThrowsInvalidArgument(string name)
    {
        var ns = await NewNamespaceAsync();

        var error = await ThrowsAsync<RpcException>(() => AddAsync(ns, (name, IndexedValueType.Keyword)));

        Assert.Multiple(() =>
        {
            Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
            Assert.That(error.Message, Does.Contain($"{name} is reserved"));
        });
    }

    [Test]
    public async Task AddSearchAttributes_BeyondTheSlotsOfAType_ThrowsInvalidArgumentAndAddsNone()
    {
        var ns = await NewNamespaceAsync();
        await AddAsync(ns, ("Int1", IndexedValueType.Int), ("Int2", IndexedValueType.Int), ("Int3", IndexedValueType.Int));

        var error = await ThrowsAsync<RpcException>(() => AddAsync(ns, ("Int4", IndexedValueType.Int), ("Flag", IndexedValueType.Bool)));

        Assert.Multiple(async () =>
        {
            Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
            Assert.That(error.Message, Does.Contain("cannot have more than 3 search attribute of type Int"));
            Assert.That((await ListAsync(ns)).CustomAttributes.Keys, Is.EquivalentTo(new[] { "Int1", "Int2", "Int3" }));
        });
    }

    [Test]
    public async Task AddSearchAttributes_WithAnUnknownType_ThrowsInvalidArgument()
    {
        var ns = await NewNamespaceAsync();

        var error = await ThrowsAsync<RpcException>(() => AddAsync(ns, ("Odd", IndexedValueType.Unspecified)));

        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
    }

    [Test]
    public async Task AddSearchAttributes_OnAnUnknownNamespace_ThrowsNotFound()
    {
        var error = await ThrowsAsync<RpcException>(() => AddAsync("no-such-namespace", ("Region", IndexedValueType.Keyword)));

        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.NotFound));
    }

    [Test]
    public async Task RemoveSearchAttributes_ThenList_NoLongerShowsThemAndQueriesRefuseThem()
    {
        var ns = await NewNamespaceAsync();
        await AddAsync(ns, ("Region", IndexedValueType.Keyword), ("Score", IndexedValueType.Double));

        await Client.Connection.OperatorService.RemoveSearchAttributesAsync(
            new RemoveSearchAttributesRequest { Namespace = ns, SearchAttributes = { "Region", "NeverAdded" } });

        var count = () => Client.Connection.WorkflowService.CountWorkflowExecutionsAsync(
            new CountWorkflowExecutionsRequest { Namespace = ns, Query = "Region = 'eu'" });
        var error = await ThrowsAsync<RpcException>(count);
        Assert.Multiple(async () =>
        {
            Assert.That((await ListAsync(ns)).CustomAttributes.Keys, Is.EqualTo(new[] { "Score" }));
            Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
        });
    }

    [Test]
    public async Task RemoveSearchAttributes_OfASystemAttribute_ThrowsInvalidArgument()
    {
        var ns = await NewNamespaceAsync();

        var error = await ThrowsAsync<RpcException>(() => Client.Connection.OperatorService.RemoveSearchAttributesAsync(
            new RemoveSearchAttributesRequest { Namespace = ns, SearchAttributes = { "WorkflowType" } }));

        Assert.That(error.Message, Does.Contain("non-custom"));
    }

    [Test]
    public async Task GetSearchAttributes_ListsSystemAndRegisteredAttributes()
    {
        var ns = await NewNamespaceAsync();
        await AddAsync(ns, ("Pipeline", IndexedValueType.Text));

        var response = await Client.Connection.WorkflowService.GetSearchAttributesAsync(new GetSearchAttributesRequest());

        Assert.Multiple(() =>
        {
            Assert.That(response.Keys["Pipeline"], Is.EqualTo(IndexedValueType.Text));
            Assert.That(response.Keys["StartTime"], Is.EqualTo(IndexedValueType.Datetime));
            Assert.That(response.Keys["ExecutionStatus"], Is.EqualTo(IndexedValueType.Keyword));
        });
    }

    [Test]
    public async Task ListClusters_AnswersUnimplemented()
    {
        var error = await ThrowsAsync<RpcException>(() => Client.Connection.OperatorService.ListClustersAsync(new ListClustersRequest()));

        Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.Unimplemented));
    }
}
