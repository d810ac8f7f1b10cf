using Temporalio.Api.Enums.V1;
using Temporalio.Api.OperatorService.V1;
using Temporalio.Client;
using Temporalio.Common;
using Temporalio.Exceptions;

namespace Formanova.Tests.DevServer;

/// <summary>
/// Visibility on registered custom search attributes through the real SDK: values set at start and upserted by
/// workflows, filters of every type, ORDER BY with stable paging, and COUNT … GROUP BY ExecutionStatus.
/// </summary>
[TestFixture]
[Category("Integration")]
public class CustomSearchAttributeTests : DevServerFixture
{
    [OneTimeSetUp]
    public async Task RegisterAttributesAsync()
    {
        var request = new AddSearchAttributesRequest { Namespace = "default" };
        request.SearchAttributes.Add(CustomAttributes.All);
        await Client.Connection.OperatorService.AddSearchAttributesAsync(request);
    }

    private async Task<WorkflowHandle> StartAsync(string queue, SearchAttributeCollection attributes) =>
        await Client.StartWorkflowAsync(
            (SignalQueryWorkflow wf) => wf.RunAsync(),
            new(NewId(), queue) { TypedSearchAttributes = attributes });

    private async Task<List<WorkflowExecution>> ListAsync(string query)
    {
        var found = new List<WorkflowExecution>();
        await foreach (var wf in Client.ListWorkflowsAsync(query))
        {
            found.Add(wf);
        }

        return found;
    }

    [Test]
    public async Task ListWorkflows_FilteredByKeywordAndOrderedByIntDesc_ReturnsMatchesInThatOrder()
    {
        var tag = Guid.NewGuid().ToString("N");
        var queue = NewQueue();
        var handles = new List<WorkflowHandle>();
        foreach (var value in new long[] { 5, 20, 1 })
        {
            handles.Add(await StartAsync(queue, new SearchAttributeCollection.Builder()
                .Set(CustomAttributes.Keyword, tag).Set(CustomAttributes.Number, value).ToSearchAttributeCollection()));
        }

        await StartAsync(queue, new SearchAttributeCollection.Builder()
            .Set(CustomAttributes.Keyword, "other").Set(CustomAttributes.Number, 100).ToSearchAttributeCollection());

        var found = await ListAsync($"CustomKeyword = '{tag}' ORDER BY CustomInt DESC");
        var ascending = await ListAsync($"CustomKeyword = '{tag}' ORDER BY CustomInt");

        Assert.Multiple(() =>
        {
            Assert.That(found.Select(w => w.Id), Is.EqualTo(new[] { handles[1].Id, handles[0].Id, handles[2].Id }));
            Assert.That(found.Select(w => w.TypedSearchAttributes.Get(CustomAttributes.Number)), Is.EqualTo(new long[] { 20, 5, 1 }));
            Assert.That(ascending.Select(w => w.Id), Is.EqualTo(new[] { handles[2].Id, handles[0].Id, handles[1].Id }));
        });
        await TerminateAllAsync(queue);
    }

    [Test]
    public async Task ListWorkflows_OnEveryAttributeType_FiltersByTypedValue()
    {
        var tag = Guid.NewGuid().ToString("N");
        var queue = NewQueue();
        var when = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);
        var match = await StartAsync(queue, new SearchAttributeCollection.Builder()
            .Set(CustomAttributes.Keyword, tag)
            .Set(CustomAttributes.Text, "nightly drift check for churn model")
            .Set(CustomAttributes.Number, 7)
            .Set(CustomAttributes.Score, 0.93)
            .Set(CustomAttributes.Flag, true)
            .Set(CustomAttributes.When, when)
            .Set(CustomAttributes.Tags, ["gpu", "nightly"])
            .ToSearchAttributeCollection());
        var other = await StartAsync(queue, new SearchAttributeCollection.Builder()
            .Set(CustomAttributes.Keyword, tag + "-x")
            .Set(CustomAttributes.Text, "weekly retrain")
            .Set(CustomAttributes.Number, 70)
            .Set(CustomAttributes.Score, 0.5)
            .Set(CustomAttributes.Flag, false)
            .Set(CustomAttributes.When, when.AddDays(10))
            .Set(CustomAttributes.Tags, ["cpu"])
            .ToSearchAttributeCollection());
        var scope = $"CustomKeyword STARTS_WITH '{tag}'";

        async Task<string[]> IdsAsync(string filter) => [.. (await ListAsync($"{scope} AND ({filter})")).Select(w => w.Id)];

        var matchOnly = new[] { match.Id };
        Assert.That(await IdsAsync("CustomText = 'Drift churn'"), Is.EqualTo(matchOnly), "Text");
        Assert.That(await IdsAsync("CustomInt < 10"), Is.EqualTo(matchOnly), "Int");
        Assert.That(await IdsAsync("CustomInt BETWEEN 5 AND 8"), Is.EqualTo(matchOnly), "Int between");
        Assert.That(await IdsAsync("CustomDouble >= 0.9"), Is.EqualTo(matchOnly), "Double");
        Assert.That(await IdsAsync("CustomBool = true"), Is.EqualTo(matchOnly), "Bool");
        Assert.That(await IdsAsync("CustomDatetime <= '2026-03-04T05:06:07Z'"), Is.EqualTo(matchOnly), "Datetime");
        Assert.That(await IdsAsync("CustomKeywordList = 'gpu'"), Is.EqualTo(matchOnly), "KeywordList");
        Assert.That(await IdsAsync($"CustomKeyword IN ('{tag}', 'nothing')"), Is.EqualTo(matchOnly), "Keyword IN");
        Assert.That(await IdsAsync($"CustomKeyword != '{tag}'"), Is.EqualTo(new[] { other.Id }), "Keyword !=");
        Assert.That(await IdsAsync("CustomInt = 7 OR CustomBool = false"), Is.EquivalentTo(new[] { match.Id, other.Id }), "OR");
        Assert.That((await Client.CountWorkflowsAsync($"{scope} AND CustomKeywordList IN ('cpu', 'tpu')")).Count, Is.EqualTo(1));
        await TerminateAllAsync(queue);
    }

    [Test]
    public async Task ListWorkflows_AfterUpsertsFromWorkflows_SeesTheUpsertedValuesAndRemovals()
    {
        var tag = Guid.NewGuid().ToString("N");
        var queue = NewQueue();
        var options = new WorkflowOptions(NewId(), queue)
        {
            TypedSearchAttributes = new SearchAttributeCollection.Builder()
                .Set(CustomAttributes.Keyword, tag).Set(CustomAttributes.Number, 1).ToSearchAttributeCollection(),
        };
        var upsertPlan = new UpsertPlan(Number: 99, Tags: [tag, "done"]);
        var upserted = await Client.StartWorkflowAsync((UpsertSearchAttributesWorkflow wf) => wf.RunAsync(upsertPlan), options);
        var removedId = NewId();
        var removePlan = new UpsertPlan(Tags: [tag], UnsetKeyword: true);
        var removed = await Client.StartWorkflowAsync(
            (UpsertSearchAttributesWorkflow wf) => wf.RunAsync(removePlan),
            new WorkflowOptions(removedId, queue) { TypedSearchAttributes = options.TypedSearchAttributes });

        await RunWorkerAsync(queue, o => o.AddWorkflow<UpsertSearchAttributesWorkflow>(), async () =>
        {
            await upserted.GetResultAsync();
            await removed.GetResultAsync();
        });

        var byNewInt = await ListAsync($"CustomKeyword = '{tag}' AND CustomInt = 99");
        var byOldInt = await ListAsync($"CustomKeyword = '{tag}' AND CustomInt = 1");
        var withoutKeyword = await ListAsync($"CustomKeywordList = '{tag}' AND CustomKeyword IS NULL");
        Assert.Multiple(() =>
        {
            Assert.That(byNewInt.Select(w => w.Id), Is.EqualTo(new[] { upserted.Id }));
            Assert.That(byOldInt, Is.Empty);
            Assert.That(byNewInt[0].TypedSearchAttributes.Get(CustomAttributes.Tags), Is.EqualTo(new[] { tag, "done" }));
            Assert.That(withoutKeyword.Select(w => w.Id), Is.EqualTo(new[] { removedId }));
            Assert.That(withoutKeyword[0].TypedSearchAttributes.ContainsKey(CustomAttributes.Keyword), Is.False);
        });
    }

    [Test]
    public async Task ListWorkflows_OrderedByCustomAttributeAcrossPages_ReturnsEachRunOnceInOrder()
    {
        var tag = Guid.NewGuid().ToString("N");
        var queue = NewQueue();
        // Ties on CustomInt are broken by start time (newest first), then run id.
        var values = new long[] { 3, 1, 3, 2, 1, 3, 2 };
        var started = new List<(string Id, long Value, int Order)>();
        for (var i = 0; i < values.Length; i++)
        {
            var handle = await StartAsync(queue, new SearchAttributeCollection.Builder()
                .Set(CustomAttributes.Keyword, tag).Set(CustomAttributes.Number, values[i]).ToSearchAttributeCollection());
            started.Add((handle.Id, values[i], i));
        }

        var query = $"CustomKeyword = '{tag}' ORDER BY CustomInt DESC";
        var seen = new List<string>();
        byte[]? token = null;
        do
        {
            var page = await Client.ListWorkflowsPaginatedAsync(query, token, new WorkflowListPaginatedOptions { PageSize = 3 });
            seen.AddRange(page.Workflows.Select(w => w.Id));
            token = page.NextPageToken;
        }
        while (token is { Length: > 0 });

        var expected = started.OrderByDescending(s => s.Value).ThenByDescending(s => s.Order).Select(s => s.Id);
        Assert.That(seen, Is.EqualTo(expected));
        await TerminateAllAsync(queue);
    }

    [Test]
    public async Task CountWorkflows_GroupByExecutionStatus_ReturnsACountPerStatus()
    {
        var tag = Guid.NewGuid().ToString("N");
        var queue = NewQueue();
        var attributes = new SearchAttributeCollection.Builder().Set(CustomAttributes.Keyword, tag).ToSearchAttributeCollection();
        var handles = new List<WorkflowHandle>();
        for (var i = 0; i < 4; i++)
        {
            handles.Add(await StartAsync(queue, attributes));
        }

        await handles[0].TerminateAsync("done");
        await handles[1].TerminateAsync("done");
        await handles[2].TerminateAsync("done");

        var count = await Client.CountWorkflowsAsync($"CustomKeyword = '{tag}' GROUP BY ExecutionStatus");

        Assert.Multiple(() =>
        {
            Assert.That(count.Count, Is.EqualTo(4));
            Assert.That(
                count.Groups.Select(g => (string.Join(",", g.GroupValues), g.Count)),
                Is.EqualTo(new[] { ("Terminated", 3L), ("Running", 1L) }));
        });
        await handles[3].TerminateAsync("cleanup");
    }

    [Test]
    public async Task ListWorkflows_WhenQueryNamesAnUnregisteredAttribute_ThrowsInvalidArgumentNamingIt()
    {
        var error = await ThrowsAsync<RpcException>(() => Client.CountWorkflowsAsync("NotRegisteredAnywhere = 'x'"));

        Assert.Multiple(() =>
        {
            Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
            Assert.That(error.Message, Does.Contain("NotRegisteredAnywhere"));
        });
    }

    [Test]
    public async Task Start_WithAnUnregisteredAttribute_ThrowsInvalidArgumentNamingIt()
    {
        var attributes = new SearchAttributeCollection.Builder()
            .Set(SearchAttributeKey.CreateKeyword("NeverRegistered"), "x").ToSearchAttributeCollection();

        var error = await ThrowsAsync<RpcException>(() => StartAsync(NewQueue(), attributes));

        Assert.Multiple(() =>
        {
            Assert.That(error.Code, Is.EqualTo(RpcException.StatusCode.InvalidArgument));
            Assert.That(error.Message, Does.Contain("NeverRegistered"));
        });
    }

    [Test]
    public async Task Start_WithAValueOfTheWrongType_ThrowsInvalidArgument()
    {
        // Registered as Int: a keyword value for the same name is refused.
        var attributes = new SearchAttributeCollection.Builder()
            .Set(SearchAttributeKey.CreateKeyword(CustomAttributes.Number.Name), "seven").ToSearchAttributeCollection();

        var error = await ThrowsAsync<RpcException>(() => StartAsync(NewQueue(), attributes));

        Assert.That(error.Message, Does.Contain("CustomInt"));
    }

    [Test]
    public async Task Upsert_OfAnUnregisteredAttribute_FailsTheWorkflowTaskWithBadSearchAttributes()
    {
        var queue = NewQueue();
        var plan = new UpsertPlan(Unregistered: "NotRegisteredForUpsert");
        var handle = await Client.StartWorkflowAsync(
            (UpsertSearchAttributesWorkflow wf) => wf.RunAsync(plan),
            new(NewId(), queue));

        await RunWorkerAsync(queue, o => o.AddWorkflow<UpsertSearchAttributesWorkflow>(), async () =>
            await WaitUntilAsync(async () =>
                (await handle.FetchHistoryAsync()).Events.Any(e => e.EventType == EventType.WorkflowTaskFailed)));

        var failed = (await handle.FetchHistoryAsync()).Events.First(e => e.EventType == EventType.WorkflowTaskFailed);
        Assert.Multiple(() =>
        {
            Assert.That(failed.WorkflowTaskFailedEventAttributes.Cause, Is.EqualTo(WorkflowTaskFailedCause.BadSearchAttributes));
            Assert.That(failed.WorkflowTaskFailedEventAttributes.Failure.Message, Does.Contain("NotRegisteredForUpsert"));
        });
        await handle.TerminateAsync("cleanup");
    }

    [Test]
    public async Task Describe_AfterUpsert_KeepsTheStartedEventUnchanged()
    {
        var queue = NewQueue();
        var plan = new UpsertPlan(Number: 2);
        var handle = await Client.StartWorkflowAsync(
            (UpsertSearchAttributesWorkflow wf) => wf.RunAsync(plan),
            new(NewId(), queue)
            {
                TypedSearchAttributes = new SearchAttributeCollection.Builder()
                    .Set(CustomAttributes.Number, 1).ToSearchAttributeCollection(),
            });

        await RunWorkerAsync(queue, o => o.AddWorkflow<UpsertSearchAttributesWorkflow>(), () => handle.GetResultAsync());

        var started = (await handle.FetchHistoryAsync()).Events.First().WorkflowExecutionStartedEventAttributes;
        var described = await handle.DescribeAsync();
        Assert.Multiple(() =>
        {
            Assert.That(started.SearchAttributes.IndexedFields["CustomInt"].Data.ToStringUtf8(), Is.EqualTo("1"));
            Assert.That(described.TypedSearchAttributes.Get(CustomAttributes.Number), Is.EqualTo(2));
        });
    }

    private async Task TerminateAllAsync(string queue)
    {
        await foreach (var wf in Client.ListWorkflowsAsync($"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"))
        {
            await Client.GetWorkflowHandle(wf.Id).TerminateAsync("cleanup");
        }
    }
}
